import COpenSSL

/// MD5 in base64, for S3's `Content-MD5` header only: the service recomputes it and refuses an
/// upload damaged on the way (BadDigest). Integrity against tampering is SHA-256's job, not this.
public enum MD5Digest {
    public static func base64(of bytes: UnsafeRawBufferPointer) -> String {
        let hasher = MD5Hasher()
        hasher.update(bytes)
        return hasher.finalizeBase64()
    }
}

/// The same digest fed piece by piece: a 16 MiB upload part read from a file in 1 MiB steps.
public final class MD5Hasher {
    private let context = EVP_MD_CTX_new()

    public init() { EVP_DigestInit_ex(context, EVP_md5(), nil) }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) }
    }

    public func finalizeBase64() -> String {
        var digest = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        digest.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(context, $0.baseAddress, &length) }
        var encoded = [UInt8](repeating: 0, count: 25)
        let n = encoded.withUnsafeMutableBufferPointer { out in
            digest.withUnsafeBufferPointer { EVP_EncodeBlock(out.baseAddress, $0.baseAddress, 16) }
        }
        return String(decoding: encoded.prefix(Int(n)), as: UTF8.self)
    }
}
