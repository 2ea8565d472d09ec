/// The fixed 80-byte header in front of every encrypted object. It makes each object
/// self-describing (KDF parameters and salts travel with it), so one object plus the
/// passphrase is enough to decrypt it; docs/encryption.md is the normative description.
///
///     0   8  magic "WALVAULT"
///     8   1  format version (1)
///     9   1  cipher (1 = AES-256-GCM)
///     10  1  KDF (1 = PBKDF2-HMAC-SHA256)
///     11  1  chunk size exponent e: plaintext chunks of 2^e bytes
///     12  4  KDF iterations, big-endian
///     16 16  KDF salt
///     32 32  object salt
///     64 16  key check
public struct EncryptionHeader: Equatable, Sendable {
    public static let size = 80
    public static let magic: [UInt8] = Array("WALVAULT".utf8)
    public static let version: UInt8 = 1
    public static let cipherAES256GCM: UInt8 = 1
    public static let kdfPBKDF2SHA256: UInt8 = 1
    public static let defaultChunkExponent = 16
    /// Readers accept 1 KiB to 1 MiB chunks: the upper bound is the reader's memory bound.
    public static let chunkExponents = 10...20
    /// Readers refuse more than this, so a forged header cannot make them spin for minutes.
    public static let iterationRange = 1_000...100_000_000
    public static let kdfSaltSize = 16
    public static let objectSaltSize = 32
    public static let keyCheckSize = 16
    public static let tagSize = 16

    public let chunkExponent: Int
    public let iterations: Int
    public let kdfSalt: [UInt8]
    public let objectSalt: [UInt8]
    public let keyCheck: [UInt8]

    public init(chunkExponent: Int, iterations: Int, kdfSalt: [UInt8], objectSalt: [UInt8], keyCheck: [UInt8]) {
        self.chunkExponent = chunkExponent
        self.iterations = iterations
        self.kdfSalt = kdfSalt
        self.objectSalt = objectSalt
        self.keyCheck = keyCheck
    }

    public var chunkSize: Int { 1 << chunkExponent }

    public func encoded() -> [UInt8] {
        var bytes = Self.magic
        bytes += [Self.version, Self.cipherAES256GCM, Self.kdfPBKDF2SHA256, UInt8(chunkExponent)]
        let n = UInt32(iterations)
        bytes += [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
        bytes += kdfSalt + objectSalt + keyCheck
        return bytes
    }

    /// Whether stored bytes begin like an encrypted object; plaintext objects never do
    /// (zstd, lz4, gzip, WAL pages, TOML and JSON all start differently).
    public static func hasMagic<C: Collection>(_ prefix: C) -> Bool where C.Element == UInt8 {
        prefix.count >= magic.count && zip(prefix, magic).allSatisfy { $0 == $1 }
    }

    public enum ParseProblem: Error, Equatable {
        case noMagic
        case unsupported(String)
    }

    public init(bytes: [UInt8]) throws(ParseProblem) {
        guard bytes.count == Self.size, Self.hasMagic(bytes) else { throw .noMagic }
        guard bytes[8] == Self.version else { throw .unsupported("format version \(bytes[8]); this walvault reads version \(Self.version)") }
        guard bytes[9] == Self.cipherAES256GCM else { throw .unsupported("cipher \(bytes[9])") }
        guard bytes[10] == Self.kdfPBKDF2SHA256 else { throw .unsupported("key derivation \(bytes[10])") }
        let exponent = Int(bytes[11])
        guard Self.chunkExponents.contains(exponent) else { throw .unsupported("chunk size 2^\(exponent)") }
        let iterations = bytes[12..<16].reduce(0) { $0 << 8 | Int($1) }
        guard Self.iterationRange.contains(iterations) else { throw .unsupported("\(iterations) key derivation iterations") }
        self.init(
            chunkExponent: exponent, iterations: iterations, kdfSalt: Array(bytes[16..<32]),
            objectSalt: Array(bytes[32..<64]), keyCheck: Array(bytes[64..<80]))
    }

    /// Chunk nonces are derived, never stored: the index binds each chunk to its place and the
    /// last byte marks the final chunk, so reordering, dropping, truncating or appending chunks
    /// all change the nonce a chunk was sealed under and fail its tag.
    public static func nonce(chunk index: UInt64, final: Bool) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { nonce[i] = UInt8(truncatingIfNeeded: index >> (56 - 8 * UInt64(i))) }
        nonce[11] = final ? 1 : 0
        return nonce
    }
}
