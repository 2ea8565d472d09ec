import WalvaultPipeline
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Documents downloaded from the chat, kept under the spool by their SHA-256 so that the next
/// archive-get (one process per segment) reads the other objects of a bundle without
/// downloading it again. A file gets its final name only after its checksum matched; the
/// oldest go when the total passes `budget`.
final class TelegramDocumentCache: @unchecked Sendable {
    let directory: String
    let budget: Int

    init(directory: String, budget: Int) {
        self.directory = directory
        self.budget = budget
    }

    func path(_ document: TelegramCatalog.Document) -> String { Paths.join(directory, document.sha256) }

    func open(_ document: TelegramCatalog.Document, download: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> FileDescriptor {
        let final = path(document)
        if let fd = try? FileDescriptor.openRegularFile(final), (try? fd.size()) == document.size { return fd }
        // Unique per download: restore reads parts on several threads, which may want one document.
        let temporary = Paths.join(directory, ".\(document.sha256).\(getpid()).\(UInt64.random(in: 0...UInt64.max))")
        let fd: FileDescriptor
        do {
            try FileSystem.makeDirectories(directory, mode: 0o700)
            fd = try FileDescriptor.open(temporary, flags: O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600)
        } catch let error as SystemError {
            throw StoreError(
                store: "telegram", kind: .permanent, problem: "cannot keep a downloaded document in \(directory): \(error.reason)",
                fix: "free space in the spool, or check its permissions")
        }
        let hasher = SHA256Hasher()
        do {
            try download { bytes in
                hasher.update(bytes)
                try fd.writeAll(bytes)
            }
        } catch {
            try? FileSystem.remove(temporary)
            throw error
        }
        guard hasher.finalizeHex() == document.sha256 else {
            try? FileSystem.remove(temporary)
            throw StoreError(
                store: "telegram", kind: .transient, problem: "document \(document.message) downloaded from Telegram does not match its SHA-256",
                fix: "walvault downloads it again on the next try")
        }
        try? FileSystem.rename(temporary, to: final)
        trim(keeping: final)
        return fd
    }

    func evict(_ document: TelegramCatalog.Document) { try? FileSystem.remove(path(document)) }

    /// Oldest first until the total fits; never the file just added.
    func trim(keeping: String) {
        guard let names = try? FileSystem.listDirectory(directory) else { return }
        var files: [(path: String, size: Int, time: Int)] = []
        let now = Int(WallClock.nowMicros() / 1_000_000)
        for name in names {
            let path = Paths.join(directory, name)
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            if name.hasPrefix(".") {
                // A download a killed process left half-done.
                if now - Int(info.st_mtim.tv_sec) > 3600 { try? FileSystem.remove(path) }
                continue
            }
            files.append((path, Int(info.st_size), Int(info.st_mtim.tv_sec)))
        }
        var total = files.reduce(0) { $0 + $1.size }
        for file in files.sorted(by: { $0.time < $1.time }) where total > budget && file.path != keeping {
            try? FileSystem.remove(file.path)
            total -= file.size
        }
    }
}
