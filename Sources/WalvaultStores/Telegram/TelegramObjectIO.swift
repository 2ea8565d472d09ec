import WalvaultPipeline
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Takes an object's bytes into an unnamed temporary file and hashes them; at commit the store
/// places them into documents. Nothing reaches the chat before the commit.
final class TelegramObjectWriter: ObjectWriter {
    let store: TelegramStore
    let directory: String
    let group: ObjectGroup?
    let spill: FileDescriptor
    let hasher = SHA256Hasher()
    var size = 0
    var open = true

    init(store: TelegramStore, directory: String, group: ObjectGroup?) throws {
        self.store = store
        self.directory = directory
        self.group = group
        do {
            try FileSystem.makeDirectories(store.workDirectory, mode: 0o700)
            spill = try FileDescriptor.openUnnamed(in: store.workDirectory)
        } catch let error as SystemError {
            throw StoreError(
                store: store.name, kind: .permanent, problem: "cannot stage an object in \(store.workDirectory): \(error.reason)",
                fix: "free space in the spool, or check its permissions")
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try spill.writeAll(bytes)
        } catch let error as SystemError {
            throw StoreError(
                store: store.name, kind: .permanent, problem: "cannot stage an object in \(store.workDirectory): \(error.reason)",
                fix: "free space in the spool")
        }
        hasher.update(bytes)
        size += bytes.count
    }

    func commit(name: String) throws -> CommitOutcome {
        guard open else { throw StoreError(store: store.name, kind: .permanent, problem: "commit after abort", fix: nil) }
        open = false
        defer { try? spill.close() }
        let key = directory.isEmpty ? name : directory + "/" + name
        return try store.commit(key: key, spill: spill, size: size, sha256: hasher.finalizeHex(), group: group)
    }

    func abort() {
        guard open else { return }
        open = false
        try? spill.close()
    }
}

/// An object read back from its documents, extent by extent; its SHA-256 is checked at the end,
/// so damaged bytes never reach the reader's caller as a complete object.
final class TelegramObjectReader: ObjectReader {
    let store: TelegramStore
    let entry: TelegramCatalog.Entry
    let documents: [Int: TelegramCatalog.Document]
    let hasher = SHA256Hasher()
    var index = 0
    var within = 0
    var current: FileDescriptor?
    var verified = false

    init(store: TelegramStore, entry: TelegramCatalog.Entry, documents: [Int: TelegramCatalog.Document]) {
        self.store = store
        self.entry = entry
        self.documents = documents
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while index < entry.extents.count {
            let extent = entry.extents[index]
            if within == extent.length {
                index += 1
                within = 0
                current = nil
                continue
            }
            if current == nil {
                guard let document = documents[extent.message] else {
                    throw StoreError(
                        store: store.name, kind: .permanent,
                        problem: "the catalog places \(entry.key) in message \(extent.message), which it does not describe",
                        fix: "run walvault ship --catch-up to ship it again")
                }
                current = try store.localDocument(document)
            }
            let want = min(buffer.count, extent.length - within)
            let n = try current!.pread(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: extent.offset + within)
            guard n > 0 else {
                throw StoreError(
                    store: store.name, kind: .transient, problem: "a downloaded document of \(entry.key) is shorter than the catalog says",
                    fix: "walvault downloads it again")
            }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            within += n
            return n
        }
        if !verified {
            guard hasher.finalizeHex() == entry.sha256 else {
                for extent in entry.extents { if let document = documents[extent.message] { store.documents.evict(document) } }
                throw StoreError(
                    store: store.name, kind: .transient, problem: "\(entry.key) read from Telegram does not match its SHA-256",
                    fix: "walvault downloads its documents again on the next try")
            }
            verified = true
        }
        return 0
    }
}
