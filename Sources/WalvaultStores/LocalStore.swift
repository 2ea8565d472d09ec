import Synchronization
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A store in a local (or mounted) directory. Objects are written to a hidden temporary
/// name in their final directory, fsynced, linked under the final name (link never replaces),
/// and the directory fsynced, so a crash leaves either nothing or a complete object.
public final class LocalStore: Store {
    public let name: String
    public let root: String
    public let capabilities: StoreCapabilities = [.listing, .atomicConditionalCreate, .deletion, .onThisMachine]
    public let maxObjectSize: Int? = nil
    public var location: String { root }

    static let temporarySuffix = ".walvault-tmp"

    public init(name: String, root: String) {
        self.name = name
        self.root = root
    }

    func path(_ key: String) -> String { Paths.join(root, key) }

    /// The root must exist: creating it would hide an unmounted backup disk and fill the system disk instead.
    func checkRoot() throws {
        if FileSystem.exists(root) && !FileSystem.isDirectory(root) {
            throw StoreError(
                store: name, kind: .permanent, problem: "store path \(root) is not a directory",
                fix: "set path in the config to the store's directory (an existing directory the user running walvault can write)")
        }
        guard FileSystem.isDirectory(root) else {
            throw StoreError(
                store: name, kind: .permanent, problem: "store directory \(root) does not exist",
                fix: "create it and give it to the user running walvault (mkdir -p \(root) && chown postgres: \(root)), or fix the path in the config"
            )
        }
    }

    static func isTemporary(_ name: String) -> Bool { name.hasPrefix(".") && name.hasSuffix(temporarySuffix) }

    public func list(directory: String, namePrefix: String) throws -> [StoreObject] {
        let dirPath = path(directory)
        let names: [String]
        do {
            names = try FileSystem.listDirectory(dirPath)
        } catch let error as SystemError where error.code == ENOENT || error.code == ENOTDIR {
            try checkRoot()
            if error.code == ENOTDIR { throw StoreError(store: name, error) }
            return []
        } catch let error as SystemError {
            throw StoreError(store: name, error)
        }
        var objects: [StoreObject] = []
        for entry in names.sorted() where entry.hasPrefix(namePrefix) && !entry.hasPrefix(".") {
            let key = Paths.join(directory, entry)
            do {
                if let status = try FileSystem.status(path(key)), status.kind == .file {
                    objects.append(StoreObject(key: key, size: status.size, modifiedAt: status.modifiedAt))
                }
            } catch let error as SystemError {
                throw StoreError(store: name, error)
            }
        }
        return objects
    }

    public func listSubdirectories(directory: String) throws -> [String] {
        let dirPath = path(directory)
        do {
            return try FileSystem.listDirectory(dirPath).filter { !$0.hasPrefix(".") && FileSystem.isDirectory(Paths.join(dirPath, $0)) }.sorted()
        } catch let error as SystemError where error.code == ENOENT || error.code == ENOTDIR {
            try checkRoot()
            if error.code == ENOTDIR { throw StoreError(store: name, error) }
            return []
        } catch let error as SystemError {
            throw StoreError(store: name, error)
        }
    }

    public func head(key: String) throws -> StoreObject? {
        do {
            guard let status = try FileSystem.status(path(key)) else {
                try checkRoot()
                return nil
            }
            guard status.kind == .file, !Self.isTemporary(Paths.basename(key)) else { return nil }
            return StoreObject(key: key, size: status.size, modifiedAt: status.modifiedAt)
        } catch let error as SystemError {
            throw StoreError(store: name, error)
        }
    }

    public func openReader(key: String) throws -> ObjectReader {
        do {
            return LocalObjectReader(file: try FileDescriptor.openForReading(path(key)))
        } catch let error as SystemError {
            throw StoreError(store: name, error)
        }
    }

    public func makeWriter(directory: String) throws -> ObjectWriter {
        try checkRoot()
        let dirPath = path(directory)
        do {
            try FileSystem.makeDirectories(dirPath)
            return try LocalObjectWriter(store: self, directory: directory, directoryPath: dirPath)
        } catch let error as SystemError {
            throw StoreError(store: name, error)
        }
    }

    public func readSmall(key: String) throws -> [UInt8]? {
        do {
            // As S3's: a manifest of a long incremental chain is a few MiB.
            return try FileSystem.readSmallFile(path(key), limit: 64 << 20)
        } catch let error as SystemError where error.code == ENOENT || error.code == ENOTDIR {
            try checkRoot()
            if error.code == ENOTDIR { throw StoreError(store: name, error) }
            return nil
        } catch let error as SystemError {
            throw StoreError(store: name, error)
        }
    }

    /// Unlinks the object, then its directory if that is now empty (a backup's directory is
    /// its label: an empty one would still be listed as an incomplete backup). Temporary files of
    /// dead processes go first: a backup killed mid-part leaves one, and nothing else would ever
    /// write in that directory again to clear it.
    public func delete(key: String) throws {
        let directory = Paths.dirname(path(key))
        do {
            try FileSystem.remove(path(key))
            Self.removeAbandonedTemporaries(in: directory)
            if rmdir(directory) != 0 && errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT {
                throw SystemError("remove directory", path: directory)
            }
            try FileSystem.syncDirectory(FileSystem.exists(directory) ? directory : Paths.dirname(directory))
        } catch let error as SystemError {
            throw StoreError(store: name, error)
        }
    }

    public func createSmall(key: String, contents: [UInt8]) throws -> Bool {
        let writer = try makeWriter(directory: Paths.dirname(key))
        do {
            try contents.withUnsafeBytes { try writer.write($0) }
            let outcome = try writer.commit(name: Paths.basename(key))
            if case .stored = outcome { return true }
            return false
        } catch {
            writer.abort()
            throw error
        }
    }
}

final class LocalObjectReader: ObjectReader {
    let file: FileDescriptor
    /// The kernel is asked for the object's first 32 MiB at once (every WAL object and backup part,
    /// whole): reading many objects one after another from a cold cache, the disk otherwise waits
    /// for each read to ask for the next.
    static let readAhead = 32 << 20

    init(file: FileDescriptor) {
        self.file = file
        file.adviseSequential()
        file.adviseWillNeed(length: Self.readAhead)
    }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try file.read(into: buffer) }
}

final class LocalObjectWriter: ObjectWriter {
    private let store: LocalStore
    private let directory: String
    private let directoryPath: String
    private let temporaryPath: String
    private var file: FileDescriptor?
    /// Bytes written, and how many of them the disk was told to start writing: the fsync at
    /// commit then waits for the last stretch only, not the whole object (archive-push's fsync of a
    /// 5 MB object was 1.5-2 ms on the project's machine, all of it after the last byte).
    private var written = 0
    private var writeBackStarted = 0
    private static let writeBackStretch = 1 << 20

    private static let counter = Atomic<Int>(0)

    init(store: LocalStore, directory: String, directoryPath: String) throws {
        self.store = store
        self.directory = directory
        self.directoryPath = directoryPath
        let serial = Self.counter.add(1, ordering: .relaxed).newValue
        temporaryPath = Paths.join(directoryPath, ".\(getpid())-\(serial)\(LocalStore.temporarySuffix)")
        file = try FileDescriptor.open(temporaryPath, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o640)
    }

    deinit { abort() }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let file else { return }
        do {
            try file.writeAll(bytes)
        } catch let error as SystemError {
            throw StoreError(store: store.name, error)
        }
        written += bytes.count
        if written - writeBackStarted >= Self.writeBackStretch {
            file.startWriteBack(offset: writeBackStarted, length: written - writeBackStarted)
            writeBackStarted = written
        }
    }

    func commit(name: String) throws -> CommitOutcome {
        guard let file else { throw StoreError(store: store.name, problem: "object \(name) was already committed or aborted", fix: nil) }
        do {
            try file.sync()
            file.dropCachedPages()
            try file.close()
            self.file = nil
            LocalStore.removeAbandonedTemporaries(in: directoryPath)
            // link(2) never replaces: the name is created only if it does not exist, atomically.
            let finalPath = Paths.join(directoryPath, name)
            guard try FileSystem.linkNoReplace(temporaryPath, to: finalPath) else {
                try FileSystem.remove(temporaryPath)
                let key = Paths.join(directory, name)
                return .alreadyPresent(try store.head(key: key).map { [$0] } ?? [])
            }
            try FileSystem.remove(temporaryPath)
            try FileSystem.syncDirectory(directoryPath)
            let status = try FileSystem.status(finalPath)
            return .stored(StoreObject(key: Paths.join(directory, name), size: status?.size ?? 0, modifiedAt: status?.modifiedAt))
        } catch let error as SystemError {
            abort()
            throw StoreError(store: store.name, error)
        } catch {
            abort()
            throw error
        }
    }

    func abort() {
        file = nil
        _ = unlink(temporaryPath)
    }

}

extension LocalStore {
    /// Temporary files of processes that died (kill -9, power loss) are never visible as
    /// objects, but would accumulate; the next writer in the directory, or a deletion there,
    /// removes them.
    static func removeAbandonedTemporaries(in directoryPath: String) {
        guard let names = try? FileSystem.listDirectory(directoryPath) else { return }
        for entry in names where isTemporary(entry) {
            let pidText = entry.dropFirst().prefix { $0 != "-" }
            guard let pid = Int32(pidText), pid != getpid(), !FileSystem.isProcessAlive(pid) else { continue }
            _ = unlink(Paths.join(directoryPath, entry))
        }
    }
}
