import COpenSSL
import WalvaultSystem

/// SHA-256 through OpenSSL's EVP interface, which picks the SHA-NI code path where the CPU has it.
public final class SHA256Hasher {
    private let context: OpaquePointer

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
    }

    /// Lowercase hex; the hasher cannot be used afterwards.
    public func finalizeHex() -> String { Hex.encode(finalizeBytes()) }

    /// The 32 bytes; the hasher cannot be used afterwards.
    public func finalizeBytes() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        digest.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        return digest
    }

    public static func bytes(of bytes: [UInt8]) -> [UInt8] {
        let hasher = SHA256Hasher()
        bytes.withUnsafeBytes { hasher.update($0) }
        return hasher.finalizeBytes()
    }

    public static func hex(of bytes: [UInt8]) -> String {
        let hasher = SHA256Hasher()
        bytes.withUnsafeBytes { hasher.update($0) }
        return hasher.finalizeHex()
    }
}

/// Hashes the original bytes on their way through, so the checksum costs no second read.
public final class HashingStage: ByteSink {
    private let hasher = SHA256Hasher()
    private let next: ByteSink
    public private(set) var byteCount = 0
    public private(set) var hexDigest: String?

    public init(next: ByteSink) { self.next = next }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bytes)
        byteCount += bytes.count
        try next.write(bytes)
    }

    public func finish() throws {
        hexDigest = hasher.finalizeHex()
        try next.finish()
    }
}
