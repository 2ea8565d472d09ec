import WalvaultCatalog
import WalvaultPipeline
import WalvaultStores
import WalvaultSystem

/// Copies one object from a store to another byte for byte, below encryption (an object shipped to
/// the cloud is exactly the one on the local disk), and verifies it on the way: the bytes that go
/// out are the bytes that were decrypted, decompressed and checked against the SHA-256 in the
/// name, in one read. The copy is create-unless-present, so copying again after a crash is harmless.
public enum ObjectCopier {
    public enum Outcome: Equatable, Sendable {
        case copied(bytes: Int)
        case alreadyThere
    }

    /// - Parameters:
    ///   - source, target: the stores below encryption (`WalvaultContext.rawStores`).
    ///   - view: how commands see a store (`WalvaultContext.wrap`): used to verify.
    ///   - group: what the object joins in a target with `.groupDeletion`.
    public static func copy(key: String, from source: Store, to target: Store, group: ObjectGroup? = nil, view: (Store) -> Store) throws
        -> Outcome
    {
        let name = Paths.basename(key)
        if ArchiveLayout.plainObjectNames.contains(name) {
            return try copySmall(key: key, from: source, to: target, group: group, view: view)
        }
        let filesCheck = FilesObjectCheck(name: name)
        guard StoredObjectName(name) != nil || ExportObjectName(name) != nil || filesCheck != nil else {
            throw RepositoryError(
                problem: "\(key) in store \"\(source.name)\" is not an object walvault writes", fix: "remove it from the queue and the store")
        }
        if try target.head(key: key) != nil { return .alreadyThere }
        let writer = try target.makeWriter(directory: Paths.dirname(key), group: group)
        var committed = false
        defer { if !committed { writer.abort() } }
        let tee = TeeStore(base: source, writer: writer)
        if let filesCheck {
            let reader = try view(tee).openReader(key: key)
            do {
                try StreamPump.pump(reading: reader.read(into:), into: filesCheck.sink)
                try filesCheck.verify()
            } catch let error as PipelineError {
                throw RepositoryError(
                    problem: "\(key) in store \"\(source.name)\" is damaged (\(error)), so it was not shipped", fix: "check the source store")
            }
        } else {
            _ = try ObjectFetcher.fetch(StoreObject(key: key, size: 0), from: view(tee), into: DiscardSink())
        }
        committed = true
        switch try writer.commit(name: name) {
        case .stored: return .copied(bytes: tee.bytesCopied)
        case .alreadyPresent: return .alreadyThere
        }
    }

    /// Info files and manifests: read whole, checked through the view (decryption authenticates
    /// them; a manifest must decode), then created in the target as the same bytes.
    static func copySmall(key: String, from source: Store, to target: Store, group: ObjectGroup?, view: (Store) -> Store) throws -> Outcome {
        guard let raw = try source.readSmall(key: key) else {
            throw RepositoryError(
                problem: "\(key) is missing from store \"\(source.name)\"",
                fix: "it was queued but is gone: run walvault ship to catch up from listings")
        }
        guard let plain = try view(source).readSmall(key: key) else {
            throw RepositoryError(problem: "\(key) vanished from store \"\(source.name)\" while it was read", fix: "try again")
        }
        if key.hasSuffix("backup.manifest") || key.hasSuffix("backup.manifest.copy") {
            do { _ = try BackupManifest.decode(plain) } catch {
                throw RepositoryError(
                    problem: "\(key) in store \"\(source.name)\" is damaged (\(error)), so it was not shipped", fix: "check the source store")
            }
        }
        return try target.createSmall(key: key, contents: raw, group: group) ? .copied(bytes: raw.count) : .alreadyThere
    }
}

/// How an object of `[[storage]]` trees is checked as it is shipped: a chunk index against the
/// SHA-256 in its name, a pack's trailer against the SHA-256 its name is, a snapshot by zstd's
/// frame checksum over all of it. (Encryption, when on, authenticates every byte as well.)
final class FilesObjectCheck {
    enum Kind {
        case index(sha256: String)
        case pack(trailerSHA256: String)
        case snapshot
    }

    let kind: Kind
    private let hashing: HashingStage?
    private let kept: KeptBytes?
    let sink: ByteSink

    init?(name: String) {
        if name.hasSuffix(ArchiveLayout.chunkIndexSuffix) {
            let base = name.dropLast(ArchiveLayout.chunkIndexSuffix.count)
            guard base.count > 65, Hex.isLowercaseHex(base.suffix(64), count: 64) else { return nil }
            kind = .index(sha256: String(base.suffix(64)))
            hashing = HashingStage(next: DiscardSink())
            kept = nil
            sink = hashing!
        } else if PackFormat.isName(name) {
            kind = .pack(trailerSHA256: String(name.prefix(64)))
            hashing = nil
            kept = KeptBytes()
            sink = kept!
        } else if name.hasSuffix(ArchiveLayout.snapshotSuffix), UTCTime.parseCompact(String(name.dropLast(ArchiveLayout.snapshotSuffix.count))) != nil
        {
            kind = .snapshot
            hashing = nil
            kept = nil
            guard let decoder = try? Compression.decompressor(.zstd, next: DiscardSink(), frameChecksum: true) else { return nil }
            sink = decoder
        } else {
            return nil
        }
    }

    func verify() throws {
        switch kind {
        case .index(let sha256):
            guard hashing?.hexDigest == sha256 else { throw PipelineError(stage: "sha256", "its bytes do not match the checksum in its name") }
        case .pack(let expected):
            let bytes = kept?.bytes ?? []
            let tail = PackFormat.magic.count + 4
            guard bytes.count >= tail, Array(bytes.suffix(PackFormat.magic.count)) == PackFormat.magic else {
                throw PipelineError(stage: "pack", "it does not end with a pack trailer")
            }
            let lengthBytes = bytes[(bytes.count - tail)..<(bytes.count - PackFormat.magic.count)]
            let length = lengthBytes.reversed().reduce(0) { $0 << 8 | Int($1) }
            guard length <= bytes.count - tail else { throw PipelineError(stage: "pack", "its trailer is longer than the pack") }
            let body = Array(bytes[(bytes.count - tail - length)..<(bytes.count - tail)])
            guard SHA256Hasher.hex(of: body) == expected else { throw PipelineError(stage: "pack", "its trailer does not match its name") }
        case .snapshot:
            break  // the decoder's finish checked the frame checksum
        }
    }
}

/// Keeps what it is given, growing by copies of whole buffers (a pack: 16 MiB at most).
final class KeptBytes: ByteSink {
    private(set) var bytes: [UInt8] = []
    func write(_ chunk: UnsafeRawBufferPointer) throws {
        let start = bytes.count
        bytes.reserveCapacity(start + chunk.count)
        bytes += [UInt8](copying: chunk)
    }
    func finish() throws {}
}

/// A store whose readers hand every byte they read to a writer as well.
final class TeeStore: StoreWrapper, @unchecked Sendable {
    let base: Store
    let writer: ObjectWriter
    private(set) var bytesCopied = 0

    init(base: Store, writer: ObjectWriter) {
        self.base = base
        self.writer = writer
    }

    func openReader(key: String) throws -> ObjectReader { TeeReader(base: try base.openReader(key: key), store: self) }
    func makeWriter(directory: String) throws -> ObjectWriter { try base.makeWriter(directory: directory) }
    func readSmall(key: String) throws -> [UInt8]? { try base.readSmall(key: key) }
    func createSmall(key: String, contents: [UInt8]) throws -> Bool { try base.createSmall(key: key, contents: contents) }

    final class TeeReader: ObjectReader {
        let base: ObjectReader
        let store: TeeStore
        init(base: ObjectReader, store: TeeStore) {
            self.base = base
            self.store = store
        }

        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            let n = try base.read(into: buffer)
            if n > 0 {
                try store.writer.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                store.bytesCopied += n
            }
            return n
        }
    }
}
