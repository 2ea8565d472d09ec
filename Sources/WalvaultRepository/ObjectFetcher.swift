import WalvaultCatalog
import WalvaultPipeline
import WalvaultStores
import WalvaultSystem

/// Reads one stored object through decompression and checks the SHA-256 in its name. Callers
/// decide what to do with bytes written before the check fails (restore keeps pg_control back).
public enum ObjectFetcher {
    /// What is wrong with an object, without the object's and store's names (the caller has them).
    public enum Failure: Problem, CustomStringConvertible {
        case noChecksumInName
        case undecodable(String)
        case checksumMismatch(actual: String, expected: String)

        public var problem: String { "the object \(description)" }
        public var fix: String {
            switch self {
            case .noChecksumInName: return "it was not written by walvault; remove it"
            case .undecodable, .checksumMismatch: return "use another store's copy"
            }
        }
        public var errorCode: String {
            switch self {
            case .noChecksumInName: return "repository.damaged"
            case .undecodable, .checksumMismatch: return "pipeline.bad_data"
            }
        }

        public var description: String {
            switch self {
            case .noChecksumInName: return "has no checksum in its name: it was not written by walvault"
            case .undecodable(let why): return "is corrupted (\(why))"
            case .checksumMismatch(let actual, let expected):
                return "fails its checksum (sha256 \(actual.prefix(12))…, expected \(expected.prefix(12))…)"
            }
        }
    }

    /// - Parameter checksummedDownstream: see `check`; restore's parts, whose every byte belongs to
    ///   a file the manifest checksums.
    public static func fetch(_ object: StoreObject, from store: Store, into sink: ByteSink, checksummedDownstream: Bool = false) throws -> Int {
        do {
            return try check(object, from: store, into: sink, checksummedDownstream: checksummedDownstream)
        } catch let failure as Failure {
            switch failure {
            case .noChecksumInName:
                throw RepositoryError(
                    problem: "object \(object.key) in store \"\(store.name)\" has no checksum in its name",
                    fix: "it was not written by walvault; remove it")
            case .undecodable, .checksumMismatch:
                throw RepositoryError(problem: "object \(object.key) in store \"\(store.name)\" \(failure)", fix: "use another store's copy")
            }
        }
    }

    /// The same read, failing with `Failure` for what is wrong with the bytes; a store or sink
    /// error is thrown as it is.
    /// - Parameter checksummedDownstream: the sink checks every byte against checksums of its own
    ///   (verify's backup parts: each file's SHA-256 in the manifest), so the object's own hash
    ///   would hash the same bytes twice; the byte count is still returned.
    public static func check(_ object: StoreObject, from store: Store, into sink: ByteSink, checksummedDownstream: Bool = false) throws -> Int {
        if let name = StoredObjectName(object.name) {
            let coverage: Coverage =
                name.checksumCoversStoredBytes
                ? (checksummedDownstream ? .storedAndDownstream : .storedBytes) : checksummedDownstream ? .downstream : .originalBytes
            return try check(object, sha256: name.sha256, compression: name.compression, coverage: coverage, from: store, into: sink)
        }
        if let name = ExportObjectName(object.name) {
            return try check(
                object, sha256: name.sha256, compression: name.compression, coverage: checksummedDownstream ? .downstream : .originalBytes,
                from: store, into: sink)
        }
        throw Failure.noChecksumInName
    }

    /// What the checksum in a name is checked against.
    enum Coverage {
        /// The original bytes, as they leave the decompressor.
        case originalBytes
        /// The stored bytes (format-2 backup parts), on their way into the decompressor: a fraction
        /// of the original bytes to hash.
        case storedBytes
        /// Nothing here: the sink checks every byte against checksums of its own.
        case downstream
        /// The stored bytes here, and the sink checks the original bytes too (restore's format-2
        /// parts: every file's SHA-256), so zstd's frame checksum adds nothing.
        case storedAndDownstream
    }

    static func check(
        _ object: StoreObject, sha256: String, compression: CompressionAlgorithm, coverage: Coverage, from store: Store, into sink: ByteSink
    ) throws -> Int {
        let reader = try store.openReader(key: object.key)
        let counting = CountingStage(next: sink)
        let hashing: HashingStage?
        let head: ByteSink
        switch coverage {
        case .originalBytes:
            hashing = HashingStage(next: counting)
            head = try Compression.decompressor(compression, next: hashing!, frameChecksum: false)
        case .storedBytes, .storedAndDownstream:
            hashing = HashingStage(next: try Compression.decompressor(compression, next: counting, frameChecksum: coverage == .storedBytes))
            head = hashing!
        case .downstream:
            hashing = nil
            head = try Compression.decompressor(compression, next: counting, frameChecksum: false)
        }
        do {
            try StreamPump.pump(reading: reader.read(into:), into: head)
        } catch let error as PipelineError {
            throw Failure.undecodable("\(error)")
        }
        if let hashing, hashing.hexDigest != sha256 {
            throw Failure.checksumMismatch(actual: hashing.hexDigest ?? "", expected: sha256)
        }
        return counting.count
    }

    public static func fetchSmall(_ object: StoreObject, from store: Store) throws -> [UInt8] {
        let sink = MemorySink()
        _ = try fetch(object, from: store, into: sink)
        return sink.bytes
    }
}

final class CountingStage: ByteSink {
    private let next: ByteSink
    private(set) var count = 0
    init(next: ByteSink) { self.next = next }
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        count += bytes.count
        try next.write(bytes)
    }
    func finish() throws { try next.finish() }
}
