import WalvaultCatalog
import WalvaultKit
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One thing the walk met: its path relative to the tree's root (bytes: a name may be any bytes
/// but '/' and NUL), its `stat`, and the open directory that holds it, so that it is opened by
/// name in that directory and never through a path a rename or a symlink could redirect.
struct WalkedEntry {
    let path: [UInt8]
    let name: [UInt8]
    let status: stat
    let parent: Int32

    var kind: TreeEntry.Kind? {
        switch status.st_mode & S_IFMT {
        case S_IFREG: .file
        case S_IFDIR: .directory
        case S_IFLNK: .symlink
        default: nil
        }
    }
}

/// Walks a tree depth-first, each directory's names sorted by their bytes (`TreePath.precedes`
/// is that order), without following symlinks: the same order every time, so a snapshot can be
/// compared with the previous one in one pass.
struct TreeWalker {
    let root: String
    let exclude: ExcludeRules
    let tree: String
    /// Asked for each file a little before it is visited, to start reading what will be read.
    var readAhead: ((WalkedEntry) -> Void)?
    /// Threads listing directories ahead of the walk (none: the walk alone).
    var prefetchThreads = 0

    /// - Parameter warn: things left out that the owner should know of (a socket, an unreadable directory).
    func walk(_ visit: (WalkedEntry) throws -> Void, warn: (String) -> Void, cancellation: Cancellation) throws {
        let top: FileDescriptor
        do {
            top = try FileDescriptor.openDirectory(root)
        } catch let error as SystemError {
            throw CommandError(
                problem: "[[storage]] \"\(tree)\": cannot open \(root): \(error.reason)",
                fix: error.code == ENOENT || error.code == ENOTDIR
                    ? "check path in the config: it must be the tree's directory"
                    : "run walvault as a user who can read the tree (root, or its owner)",
                errorCode: "config.invalid")
        }
        var status = stat()
        guard fstat(top.raw, &status) == 0 else { throw SystemError("stat", path: root) }
        try visit(WalkedEntry(path: [], name: [], status: status, parent: AT_FDCWD))
        let prefetch = prefetchThreads > 0 ? DirectoryPrefetch(root: root, exclude: exclude, threads: prefetchThreads) : nil
        defer { prefetch?.stop() }
        try walkDirectory(top, path: [], prefetch: prefetch, visit: visit, warn: warn, cancellation: cancellation)
    }

    private func walkDirectory(
        _ directory: FileDescriptor, path: [UInt8], prefetch: DirectoryPrefetch?, visit: (WalkedEntry) throws -> Void,
        warn: (String) -> Void, cancellation: Cancellation
    ) throws {
        try cancellation.check("files backup")
        prefetch?.walking(path)
        var entries: [WalkedEntry] = []
        for name in try Self.names(in: directory) {
            let entryPath = TreePath.join(path, name)
            var status = stat()
            let found = RawName.with(name) { fstatat(directory.raw, $0, &status, AT_SYMLINK_NOFOLLOW) } == 0
            guard found else {
                if errno == ENOENT { continue }  // removed since the listing: not in this snapshot
                warn("left out \(shown(entryPath)): cannot stat it (\(String(cString: strerror(errno))))")
                continue
            }
            let entry = WalkedEntry(path: entryPath, name: name, status: status, parent: directory.raw)
            guard let kind = entry.kind else {
                warn("left out \(shown(entryPath)): not a file, directory or symlink")
                continue
            }
            if exclude.excludes(entryPath, isDirectory: kind == .directory) { continue }
            entries.append(entry)
        }
        var askedUpTo = 0
        for (index, entry) in entries.enumerated() {
            // The kernel reads the next files while this one is hashed: one reader that waits
            // for each small file in turn is what a cold tree of small files costs.
            while askedUpTo < min(entries.count, index + Self.filesAhead) {
                if entries[askedUpTo].kind == .file { readAhead?(entries[askedUpTo]) }
                askedUpTo += 1
            }
            if entry.kind == .directory {
                let fd = RawName.with(entry.name) { openat(directory.raw, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                guard fd >= 0 else {
                    if errno == ENOENT { continue }
                    warn("left out \(shown(entry.path))/: cannot open it (\(String(cString: strerror(errno))))")
                    continue
                }
                let child = FileDescriptor(raw: fd, path: root + "/" + TreePath.shown(entry.path))
                try visit(entry)
                try walkDirectory(child, path: entry.path, prefetch: prefetch, visit: visit, warn: warn, cancellation: cancellation)
            } else {
                try visit(entry)
            }
        }
    }

    /// How many files of a directory ahead of the one being read the kernel is asked for.
    static let filesAhead = 16

    private func shown(_ path: [UInt8]) -> String { "\(root)/\(TreePath.shown(path))" }

    /// A directory's names but "." and "..", sorted by their bytes.
    static func names(in directory: FileDescriptor) throws -> [[UInt8]] {
        let copy = dup(directory.raw)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            throw SystemError("opendir", path: directory.path)
        }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                if errno != 0 { throw SystemError("readdir", path: directory.path) }
                break
            }
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [46] || name == [46, 46] { continue }
            names.append(name)
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }
}

/// A name given as bytes to a C call that wants a NUL-terminated string.
enum RawName {
    static func with<R>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        (name + [0]).withUnsafeBufferPointer { bytes in bytes.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }
}
