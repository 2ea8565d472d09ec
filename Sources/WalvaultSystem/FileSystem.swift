import CShims

#if canImport(Glibc)
    import Glibc
#endif

/// The durable-write primitives every store and restore builds on. "Durable" here means
/// what PostgreSQL means: after return, a power loss cannot lose or half-write the file.
public enum FileSystem {
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public struct Status: Equatable {
        public enum Kind: Equatable { case file, directory, symlink, other }
        public let kind: Kind
        /// Permission bits only.
        public let mode: UInt32
        public let size: Int
        /// Microseconds since the epoch.
        public let modifiedAt: Int64
        public let owner: UInt32
        /// The file system it is on: a directory whose child is on another one has a mount below it.
        public let device: UInt64
        /// Space it takes on disk, which removing it frees.
        public let allocatedBytes: Int
    }

    /// lstat: what is at `path` without following a symlink, or nil when nothing is.
    public static func status(_ path: String) throws -> Status? {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw SystemError("stat", path: path)
        }
        let kind: Status.Kind
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .file
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        return Status(
            kind: kind, mode: UInt32(st.st_mode & 0o7777), size: Int(st.st_size),
            modifiedAt: Int64(st.st_mtim.tv_sec) * 1_000_000 + Int64(st.st_mtim.tv_nsec / 1000),
            owner: UInt32(st.st_uid), device: UInt64(st.st_dev), allocatedBytes: Int(st.st_blocks) * 512)
    }

    /// `status` following symlinks, nil when it cannot be read.
    public static func status(ifReadable path: String) -> Status? {
        try? status(realPath(path) ?? path)
    }

    public static func readLink(_ path: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { throw SystemError("read link", path: path) }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func makeSymlink(_ target: String, at path: String) throws {
        guard symlink(target, path) == 0 else { throw SystemError("create link", path: path) }
    }

    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// File size, or nil when there is no such file.
    public static func size(_ path: String) throws -> Int? {
        var st = stat()
        if stat(path, &st) == 0 { return Int(st.st_size) }
        if errno == ENOENT { return nil }
        throw SystemError("stat", path: path)
    }

    /// Flushes the whole file system that holds `path`: after writing thousands of files, one
    /// call instead of an fsync each (which would wait for the journal thousands of times).
    public static func syncFileSystem(containing path: String) throws {
        let dir = try FileDescriptor.openDirectory(path)
        guard wv_syncfs(dir.raw) == 0 else { throw SystemError("syncfs", path: path) }
        try dir.close()
    }

    public static func syncDirectory(_ path: String) throws {
        let dir = try FileDescriptor.openDirectory(path)
        try dir.sync()
        try dir.close()
    }

    /// Creates every missing directory of `path`, fsyncing each parent so that the new
    /// entries survive a crash as well as the files later placed in them.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o750) throws {
        if isDirectory(path) { return }
        let parent = Paths.dirname(path)
        if parent != path { try makeDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0 {
            if errno == EEXIST && isDirectory(path) { return }
            throw SystemError("create directory", path: path)
        }
        try syncDirectory(parent)
    }

    /// Names in a directory, without "." and "..".
    public static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw SystemError("list", path: path) }
        defer { closedir(dir) }
        return names(in: dir)
    }

    private static func names(in dir: OpaquePointer) -> [String] {
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Deletes everything inside `path` (not `path` itself), without following symlinks and
    /// without entering another file system mounted below it (EXDEV), whose data is not ours.
    /// Every step goes through a descriptor of the directory it is in (`openat` with O_NOFOLLOW,
    /// `unlinkat`), so a directory swapped for a symlink half-way is refused, never followed.
    /// - Parameter followingLink: whether `path` itself may be a symlink (a data directory the
    ///   user named); inside a spool it may not, since whoever can write there could aim it anywhere.
    public static func removeContents(of path: String, followingLink: Bool = true) throws {
        let directory = try FileDescriptor.open(path, flags: O_RDONLY | O_DIRECTORY | (followingLink ? 0 : O_NOFOLLOW))
        defer { try? directory.close() }
        try removeContents(of: directory)
    }

    /// Removes the entry `name` of the directory open as `parent`: a directory with everything
    /// in it, anything else (a symlink included) by unlinking it. Nothing is followed.
    public static func removeTree(named name: String, in parent: FileDescriptor) throws {
        var st = stat()
        guard fstatat(parent.raw, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return }
            throw SystemError("stat", path: Paths.join(parent.path, name))
        }
        let path = Paths.join(parent.path, name)
        guard st.st_mode & S_IFMT == S_IFDIR else {
            guard unlinkat(parent.raw, name, 0) == 0 || errno == ENOENT else { throw SystemError("remove", path: path) }
            return
        }
        var parentStatus = stat()
        guard fstat(parent.raw, &parentStatus) == 0 else { throw SystemError("stat", path: parent.path) }
        guard st.st_dev == parentStatus.st_dev else { throw SystemError("remove (a file system is mounted there)", path: path, code: EXDEV) }
        let fd = openat(parent.raw, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        let child = FileDescriptor(raw: fd, path: path)
        defer { try? child.close() }
        try removeContents(of: child)
        guard unlinkat(parent.raw, name, AT_REMOVEDIR) == 0 || errno == ENOENT else { throw SystemError("remove", path: path) }
    }

    /// `removeTree` checks each subdirectory's file system against its parent's.
    private static func removeContents(of directory: FileDescriptor) throws {
        for name in try listDirectory(directory) { try removeTree(named: name, in: directory) }
    }

    /// Names in the directory open as `directory`, read through a duplicate of its descriptor.
    public static func listDirectory(_ directory: FileDescriptor) throws -> [String] {
        // Close-on-exec like every descriptor walvault opens: a child spawned meanwhile keeps none.
        let copy = fcntl(directory.raw, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0, let dir = fdopendir(copy) else {
            if copy >= 0 { Glibc.close(copy) }
            throw SystemError("list", path: directory.path)
        }
        defer { closedir(dir) }
        rewinddir(dir)
        return names(in: dir)
    }

    /// Why a directory walvault keeps its own state in (the spool, a lock directory) cannot be
    /// trusted, or nil when it can: it must be a directory of the user running walvault that no
    /// one else can write, or anyone who can could plant a symlink that a later step, run as
    /// root perhaps, would follow. Nil too when nothing is there yet (walvault creates it).
    public static func untrustedDirectoryProblem(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        guard st.st_mode & S_IFMT == S_IFDIR else { return "\(path) is not a directory" }
        let me = geteuid()
        if st.st_uid != me {
            return "\(path) belongs to \(userName(st.st_uid)) (uid \(st.st_uid)), not to \(userName(me)) (uid \(me)) who runs walvault"
        }
        if st.st_mode & 0o022 != 0 {
            return "\(path) can be written by \(st.st_mode & 0o002 != 0 ? "every user" : "its group") (mode \(String(st.st_mode & 0o7777, radix: 8)))"
        }
        return nil
    }

    /// The login name of `uid`, or "uid N" when it has none.
    public static func userName(_ uid: uid_t) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return String(cString: name)
    }

    /// Bytes an unprivileged user can still write on the file system holding `path`.
    public static func availableBytes(_ path: String) throws -> Int {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { throw SystemError("check free space on", path: path) }
        return Int(st.f_bavail) * Int(st.f_frsize)
    }

    /// Disk space everything under `path` takes, without following symlinks.
    public static func allocatedBytes(under path: String) throws -> Int {
        guard let top = try status(path) else { return 0 }
        guard top.kind == .directory else { return top.allocatedBytes }
        var total = top.allocatedBytes
        for name in try listDirectory(path) { total += try allocatedBytes(under: Paths.join(path, name)) }
        return total
    }

    public static func remove(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw SystemError("remove", path: path) }
    }

    public static func rename(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw SystemError("rename", path: "\(from) to \(to)") }
    }

    /// Places `from` at `to` only if `to` does not exist yet: link(2) fails with EEXIST
    /// instead of replacing, which is what "never overwrite silently" needs.
    /// Returns false when `to` already existed.
    public static func linkNoReplace(_ from: String, to: String) throws -> Bool {
        if link(from, to) == 0 { return true }
        if errno == EEXIST { return false }
        throw SystemError("link", path: "\(from) to \(to)")
    }

    /// Writes a small file atomically and durably: temporary name, fsync, rename, fsync directory.
    /// `durable: false` skips both fsyncs, for state that only matters while the machine is up
    /// (a running job's progress): still never half-written under its name.
    public static func writeAtomically(_ path: String, contents: [UInt8], mode: mode_t = 0o640, durable: Bool = true) throws {
        try writeAtomically(path, mode: mode, durable: durable) { try $0.writeAll(contents) }
    }

    /// The same for a file written in pieces: `write` gets the temporary file, so memory is the
    /// caller's piece at a time, not the whole file. The temporary name carries the process id:
    /// two processes writing the same file never share one.
    public static func writeAtomically(_ path: String, mode: mode_t = 0o640, durable: Bool = true, write: (FileDescriptor) throws -> Void) throws {
        let dir = Paths.dirname(path)
        let temp = Paths.join(dir, ".\(Paths.basename(path)).\(getpid()).tmp")
        do {
            let fd = try FileDescriptor.open(temp, flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: mode)
            do {
                try write(fd)
                if durable { try fd.sync() }
            } catch {
                try? fd.close()
                throw error
            }
            try fd.close()
            try rename(temp, to: path)
            if durable { try syncDirectory(dir) }
        } catch {
            try? remove(temp)
            throw error
        }
    }

    /// Which file this is and whether it changed: device, inode, size, and modification and change
    /// times in ns. Any write to it changes the times, so a file with the same identity has the
    /// bytes it had when the identity was taken (PostgreSQL never rewrites a finished segment).
    public static func identity(of path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return "\(st.st_dev):\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec):\(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
    }

    /// Reads a whole small file (info files, configs); never used for WAL or backup data.
    public static func readSmallFile(_ path: String, limit: Int = 1 << 20) throws -> [UInt8] {
        try FileDescriptor.openRegularFile(path).readToEnd(limit: limit)
    }

    public static func isProcessAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// When a process started, in clock ticks since boot (`/proc/<pid>/stat`, field 22): with the
    /// pid, it names one process, so a pid the kernel gave to another after a crash is not taken
    /// for the one that died. nil when there is no such process.
    public static func processStartTicks(_ pid: Int32) -> UInt64? {
        guard let bytes = try? readSmallFile("/proc/\(pid)/stat", limit: 4096) else { return nil }
        // The command name (field 2) is in parentheses and may hold spaces: count after its last ")".
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        // Field 3 is the first after ")"; field 22 is the 20th.
        guard fields.count >= 20 else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }
}
