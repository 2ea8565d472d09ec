/// The last stage before a store: cuts the (compressed) stream into fixed-size chunks and
/// seals each with AES-256-GCM under a key of its own object. A full chunk is held back until
/// more input arrives, because only then is it known not to be the final one.
public final class EncryptStage: ByteSink {
    private let next: ByteSink
    private let header: [UInt8]
    private let cipher: ChunkCipher
    private let chunkSize: Int
    private let plain: UnsafeMutableRawBufferPointer
    private let sealed: UnsafeMutableRawBufferPointer
    private var filled = 0
    private var index: UInt64 = 0
    private var headerWritten = false

    public init(key: MasterKey, chunkExponent: Int = EncryptionHeader.defaultChunkExponent, next: ByteSink) throws {
        precondition(EncryptionHeader.chunkExponents.contains(chunkExponent))
        self.next = next
        let objectSalt = try KeyDerivation.randomBytes(EncryptionHeader.objectSaltSize)
        let (dataKey, keyCheck) = try key.objectKeys(objectSalt: objectSalt)
        header = EncryptionHeader(
            chunkExponent: chunkExponent, iterations: key.iterations, kdfSalt: key.salt,
            objectSalt: objectSalt, keyCheck: keyCheck.withUnsafeBytes { Array($0) }
        ).encoded()
        cipher = try ChunkCipher(key: dataKey, aad: header, encrypting: true)
        chunkSize = 1 << chunkExponent
        plain = .allocate(byteCount: chunkSize, alignment: 64)
        sealed = .allocate(byteCount: chunkSize + EncryptionHeader.tagSize, alignment: 64)
    }

    deinit {
        plain.deallocate()
        sealed.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            if filled == chunkSize { try emit(final: false) }
            let take = min(chunkSize - filled, bytes.count - offset)
            UnsafeMutableRawBufferPointer(rebasing: plain[filled..<filled + take])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + take]))
            filled += take
            offset += take
        }
    }

    public func finish() throws {
        try emit(final: true)
        try next.finish()
    }

    private func emit(final: Bool) throws {
        if !headerWritten {
            try next.write(header)
            headerWritten = true
        }
        let n = try cipher.seal(UnsafeRawBufferPointer(rebasing: plain[0..<filled]), index: index, final: final, into: sealed)
        try next.write(UnsafeRawBufferPointer(rebasing: sealed[0..<n]))
        index += 1
        filled = 0
    }
}
