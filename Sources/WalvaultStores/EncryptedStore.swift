import WalvaultPipeline
import WalvaultSystem

/// Wraps every configured store when [encryption] is set, so that encryption sits at the one
/// boundary all bytes cross on their way out: no command can write plaintext by forgetting
/// a stage. Keys and listings pass through (names carry no secrets: segment names and
/// checksums of plaintext that the store could not otherwise read). Objects and their sizes
/// are those of the ciphertext.
public final class EncryptedStore: StoreWrapper {
    public let base: Store
    public let keyRing: KeyRing

    public init(base: Store, keyRing: KeyRing) {
        self.base = base
        self.keyRing = keyRing
    }

    func describe(_ key: String) -> String { "\(key) in store \"\(name)\"" }

    public func openReader(key: String) throws -> ObjectReader {
        let reader = try base.openReader(key: key)
        return DecryptingObjectReader(DecryptingReader(object: describe(key), keyRing: keyRing, source: reader.read(into:)))
    }

    public func makeWriter(directory: String) throws -> ObjectWriter {
        let writer = try base.makeWriter(directory: directory)
        do {
            return EncryptingObjectWriter(base: writer, stage: try EncryptStage(key: keyRing.writingKey(), next: StoreFanOut(writers: [writer])))
        } catch {
            writer.abort()
            throw error
        }
    }

    public func readSmall(key: String) throws -> [UInt8]? {
        guard let bytes = try base.readSmall(key: key) else { return nil }
        return try SealedBytes.open(bytes, object: describe(key), keyRing: keyRing)
    }

    public func createSmall(key: String, contents: [UInt8]) throws -> Bool {
        try base.createSmall(key: key, contents: try SealedBytes.seal(contents, keyRing: keyRing))
    }
}

final class DecryptingObjectReader: ObjectReader {
    let reader: DecryptingReader
    init(_ reader: DecryptingReader) { self.reader = reader }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try reader.read(into: buffer) }
}

final class EncryptingObjectWriter: ObjectWriter {
    let base: ObjectWriter
    let stage: EncryptStage

    init(base: ObjectWriter, stage: EncryptStage) {
        self.base = base
        self.stage = stage
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws { try stage.write(bytes) }

    /// The last chunk is sealed only now: until commit, more bytes could follow.
    func commit(name: String) throws -> CommitOutcome {
        try stage.finish()
        return try base.commit(name: name)
    }

    func abort() { base.abort() }
}
