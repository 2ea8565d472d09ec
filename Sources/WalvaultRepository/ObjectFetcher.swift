import WalvaultCatalog
import WalvaultPipeline
import WalvaultStores
import WalvaultSystem

/// Reads one stored object through decompression and checks the SHA-256 in its name. Callers
/// decide what to do with bytes written before the check fails (restore keeps pg_control back).
public enum ObjectFetcher {
    public static func fetch(_ object: StoreObject, from store: Store, into sink: ByteSink) throws -> Int {
        guard let name = StoredObjectName(object.name) else {
            throw RepositoryError(problem: "object \(object.key) in store \"\(store.name)\" has no checksum in its name", fix: "it was not written by walvault; remove it")
        }
        let hashing = HashingStage(next: sink)
        let reader = try store.openReader(key: object.key)
        do {
            try StreamPump.pump(reading: reader.read(into:), into: try Compression.decompressor(name.compression, next: hashing))
        } catch let error as PipelineError {
            throw RepositoryError(problem: "object \(object.key) in store \"\(store.name)\" is corrupted (\(error))", fix: "use another store's copy")
        }
        guard hashing.hexDigest == name.sha256 else {
            throw RepositoryError(problem: "object \(object.key) in store \"\(store.name)\" fails its checksum (sha256 \(hashing.hexDigest!.prefix(12))…, expected \(name.sha256.prefix(12))…)", fix: "use another store's copy")
        }
        return hashing.byteCount
    }

    public static func fetchSmall(_ object: StoreObject, from store: Store) throws -> [UInt8] {
        let sink = MemorySink()
        _ = try fetch(object, from: store, into: sink)
        return sink.bytes
    }
}
