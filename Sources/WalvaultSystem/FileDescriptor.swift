import CShims

#if canImport(Glibc)
    import Glibc
#endif

/// An open file that closes itself, so that every early `throw` on an error path
/// releases the descriptor (archive-push runs thousands of times a day).
public final class FileDescriptor {
    public let raw: Int32
    public let path: String
    private var isOpen = true

    public init(raw: Int32, path: String) {
        self.raw = raw
        self.path = path
    }

    deinit { if isOpen { _ = Glibc.close(raw) } }

    public static func open(_ path: String, flags: Int32, mode: mode_t = 0o600) throws -> FileDescriptor {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        return FileDescriptor(raw: fd, path: path)
    }

    public static func openForReading(_ path: String) throws -> FileDescriptor {
        try open(path, flags: O_RDONLY)
    }

    /// For inputs a person names (a WAL file, a config, an object): a directory is refused at
    /// open with EISDIR, whose hint says so, rather than failing at the first read.
    public static func openRegularFile(_ path: String) throws -> FileDescriptor {
        let file = try openForReading(path)
        var st = stat()
        guard fstat(file.raw, &st) == 0 else { throw SystemError("stat", path: path) }
        if st.st_mode & S_IFMT == S_IFDIR { throw SystemError("open", path: path, code: EISDIR) }
        return file
    }

    /// A file with no name in `directory` (O_TMPFILE), read-write: gone when closed or when the
    /// process dies, so a crash leaves nothing to clean up.
    public static func openUnnamed(in directory: String) throws -> FileDescriptor {
        // O_TMPFILE (__O_TMPFILE | O_DIRECTORY) is a macro Swift does not see.
        try open(directory, flags: O_RDWR | 0o20200000, mode: 0o600)
    }

    /// An exclusive lock on the lock file at `path` (created, private, if missing), held until the
    /// descriptor is closed; nil when another process holds it. Lock files live in the spool, so a
    /// symlink there is refused rather than followed (and truncated or written by a worker).
    public static func tryLocking(_ path: String) throws -> FileDescriptor? {
        let file = try open(path, flags: O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600)
        return try file.tryLockExclusive() ? file : nil
    }

    public static func openDirectory(_ path: String) throws -> FileDescriptor {
        try open(path, flags: O_RDONLY | O_DIRECTORY)
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file. Retries EINTR.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(raw, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw SystemError("read", path: path)
        }
    }

    /// Fills the buffer unless end of file comes first; returns how many bytes were read.
    public func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var total = 0
        while total < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...]))
            if n == 0 { break }
            total += n
        }
        return total
    }

    /// Everything from the current offset to the end, for small files only (info files, configs, journals).
    public func readToEnd(limit: Int = 1 << 20) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
            if result.count > limit { throw SystemError("read (file is larger than expected)", path: path, code: EFBIG) }
        }
        return result
    }

    public func pread(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        var total = 0
        while total < buffer.count {
            let n = Glibc.pread(raw, buffer.baseAddress! + total, buffer.count - total, off_t(offset + total))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read", path: path)
            }
            if n == 0 { break }
            total += n
        }
        return total
    }

    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(raw, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("write", path: path)
            }
            offset += n
        }
    }

    /// Writes at `offset` without moving the file position, so several threads may fill one file.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.pwrite(raw, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("write", path: path)
            }
            done += n
        }
    }

    public func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll($0) }
    }

    /// Opens an existing file at a NUL-terminated path for writing with O_DIRECT (past the page
    /// cache; offsets, lengths and memory must be aligned). - Returns: the descriptor, or -1 with errno
    /// (EINVAL where the file system does not do O_DIRECT).
    public static func openDirectForWriting(_ path: UnsafePointer<CChar>) -> Int32 { wv_open_direct_write(path) }

    /// Asks the kernel to start writing a range to disk and returns at once: durability still
    /// comes from a later fsync or syncfs, which then finds most of the work done. Best effort.
    public func startWriteBack(offset: Int, length: Int) {
        _ = wv_start_writeback(raw, Int64(offset), Int64(length))
    }

    /// Allocates `length` bytes of disk for the file now. False where the file system cannot
    /// (EOPNOTSUPP): the writes then allocate as they go, which is only slower. A full disk is
    /// an error here, before a byte is written.
    public func allocate(length: Int) throws -> Bool {
        guard length > 0 else { return true }
        while wv_allocate(raw, Int64(length)) != 0 {
            if errno == EINTR { continue }
            if errno == EOPNOTSUPP || errno == ENOSYS { return false }
            throw SystemError("allocate \(length) bytes for", path: path)
        }
        return true
    }

    public func sync() throws {
        guard Glibc.fsync(raw) == 0 else { throw SystemError("fsync", path: path) }
    }

    /// Drops the file's pages from the page cache (clean ones: call it after `sync`). What walvault
    /// writes into a store is read again rarely, and then once; the memory it took is the
    /// database's cache. Best effort.
    public func dropCachedPages() {
        _ = posix_fadvise(raw, 0, 0, Int32(POSIX_FADV_DONTNEED))
    }

    public func size() throws -> Int {
        var st = stat()
        guard Glibc.fstat(raw, &st) == 0 else { throw SystemError("stat", path: path) }
        return Int(st.st_size)
    }

    /// Exclusive advisory lock, held until close; serialises writers of one store directory.
    public func lockExclusive() throws {
        while wv_flock(raw, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            throw SystemError("lock", path: path)
        }
    }

    /// The lock if nobody holds it; false at once if somebody does.
    public func tryLockExclusive() throws -> Bool {
        while wv_flock(raw, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            if errno == EWOULDBLOCK { return false }
            throw SystemError("lock", path: path)
        }
        return true
    }

    public func rewind() throws {
        guard lseek(raw, 0, SEEK_SET) == 0 else { throw SystemError("seek", path: path) }
    }

    public func adviseSequential() {
        _ = posix_fadvise(raw, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
    }

    /// Starts reading the first `length` bytes into the page cache and returns at once. Best effort.
    public func adviseWillNeed(length: Int) { adviseWillNeed(offset: 0, length: length) }

    /// Starts reading `length` bytes from `offset` into the page cache and returns at once. Best effort.
    public func adviseWillNeed(offset: Int, length: Int) {
        _ = posix_fadvise(raw, off_t(offset), off_t(length), Int32(POSIX_FADV_WILLNEED))
    }

    public func close() throws {
        guard isOpen else { return }
        isOpen = false
        guard Glibc.close(raw) == 0 else { throw SystemError("close", path: path) }
    }
}
