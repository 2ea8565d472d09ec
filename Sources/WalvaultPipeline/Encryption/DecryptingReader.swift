/// Pulls an encrypted object from its source and hands out plaintext one authenticated chunk
/// at a time: no byte leaves this reader before its chunk's tag verified. A stream that is cut
/// short can still have delivered earlier chunks, so callers write to a temporary place and
/// keep the result only when the whole read succeeded (archive-get and restore do).
public final class DecryptingReader {
    public typealias Source = (UnsafeMutableRawBufferPointer) throws -> Int

    private let source: Source
    private let keyRing: KeyRing
    /// How messages name the object.
    public let object: String
    private var cipher: ChunkCipher?
    private var chunkSize = 0
    private var sealed: UnsafeMutableRawBufferPointer?
    private var plain: UnsafeMutableRawBufferPointer?
    /// The byte read past a full chunk to learn that it was not the last one.
    private var carried: UInt8?
    private var index: UInt64 = 0
    private var available = 0..<0
    private var finished = false

    public init(object: String, keyRing: KeyRing, source: @escaping Source) {
        self.object = object
        self.keyRing = keyRing
        self.source = source
    }

    deinit {
        sealed?.deallocate()
        plain?.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if cipher == nil { try start() }
        while available.isEmpty {
            if finished { return 0 }
            try nextChunk()
        }
        let n = min(buffer.count, available.count)
        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: plain![available.lowerBound..<available.lowerBound + n]))
        available = available.lowerBound + n..<available.upperBound
        return n
    }

    private func fill(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try StreamPump.fill(buffer, reading: source)
    }

    private func start() throws {
        var bytes = [UInt8](repeating: 0, count: EncryptionHeader.size)
        let got = try bytes.withUnsafeMutableBytes { try fill($0) }
        let magic = EncryptionHeader.magic
        guard got > 0 else {
            throw EncryptionError.damaged(
                object, "empty", fix: "even empty content has an \(EncryptionHeader.size)-byte header; use another store's copy")
        }
        guard EncryptionHeader.hasMagic(bytes[0..<got]) || (got < magic.count && bytes[0..<got].elementsEqual(magic[0..<got])) else {
            throw EncryptionError.notEncrypted(object)
        }
        guard got == EncryptionHeader.size else {
            throw EncryptionError.damaged(object, "truncated inside its \(EncryptionHeader.size)-byte header", fix: "use another store's copy")
        }
        let header: EncryptionHeader
        do {
            header = try EncryptionHeader(bytes: bytes)
        } catch {
            guard case .unsupported(let what) = error else { throw EncryptionError.notEncrypted(object) }
            throw EncryptionError.unsupported(object, what)
        }
        let master = try keyRing.masterKey(salt: header.kdfSalt, iterations: header.iterations)
        let (dataKey, keyCheck) = try master.objectKeys(objectSalt: header.objectSalt)
        guard header.keyCheck.withUnsafeBytes({ keyCheck.isEqual(to: $0) }) else {
            throw EncryptionError.wrongPassphraseOrDamaged(
                object,
                detail:
                    "its key check does not match: check the passphrase in [encryption]; if other objects decrypt with it, this header is damaged: use another store's copy"
            )
        }
        cipher = try ChunkCipher(key: dataKey, aad: bytes, encrypting: false)
        chunkSize = header.chunkSize
        sealed = .allocate(byteCount: chunkSize + EncryptionHeader.tagSize, alignment: 64)
        plain = .allocate(byteCount: chunkSize, alignment: 64)
    }

    private func nextChunk() throws {
        let sealed = sealed!
        let full = chunkSize + EncryptionHeader.tagSize
        var got = 0
        if let carried {
            sealed[0] = carried
            got = 1
            self.carried = nil
        }
        got += try fill(UnsafeMutableRawBufferPointer(rebasing: sealed[got..<full]))
        var final = got < full
        if !final {
            var peek: UInt8 = 0
            let n = try withUnsafeMutableBytes(of: &peek) { try fill($0) }
            if n == 0 { final = true } else { carried = peek }
        }
        guard got >= EncryptionHeader.tagSize, !(final && got == EncryptionHeader.tagSize && index > 0) else {
            throw EncryptionError.damaged(
                object, "truncated (it ends \(got) bytes into chunk \(index))", fix: "the passphrase is right; use another store's copy")
        }
        guard let n = cipher!.open(UnsafeRawBufferPointer(rebasing: sealed[0..<got]), index: index, final: final, into: plain!) else {
            throw EncryptionError.damaged(
                object, "damaged: chunk \(index) fails authentication (\(final ? "as the last chunk" : "followed by more data"))",
                fix: "the passphrase is right, but the object was altered, truncated or extended; use another store's copy")
        }
        available = 0..<n
        index += 1
        finished = final
    }
}
