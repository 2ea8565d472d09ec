import COpenSSL

#if canImport(Glibc)
    import Glibc
#endif

/// The OpenSSL primitives walvault's key schedule is built from. Nothing here is
/// hand-written cryptography: each function is one OpenSSL call with fixed parameters.
public enum KeyDerivation {
    /// PBKDF2-HMAC-SHA256: the slow step, run once per (passphrase, KDF salt) and then cached.
    public static func pbkdf2(passphrase: SecretBytes, salt: [UInt8], iterations: Int) throws -> SecretBytes {
        let key = SecretBytes(count: 32)
        let ok = passphrase.withUnsafeBytes { pass in
            key.withUnsafeMutableBytes { out in
                PKCS5_PBKDF2_HMAC(
                    pass.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(pass.count),
                    salt, Int32(salt.count), Int32(iterations), EVP_sha256(), 32,
                    out.baseAddress?.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard ok == 1 else { throw PipelineError(stage: "openssl", "PBKDF2 failed") }
        return key
    }

    /// OSSL_PARAM keeps pointers to its key names, so they must outlive the call that builds
    /// it; Swift's bridging of the header's string macros would hand out temporary ones.
    nonisolated(unsafe) private static let digestName = strdup(OSSL_KDF_PARAM_DIGEST)!
    nonisolated(unsafe) private static let keyName = strdup(OSSL_KDF_PARAM_KEY)!
    nonisolated(unsafe) private static let saltName = strdup(OSSL_KDF_PARAM_SALT)!
    nonisolated(unsafe) private static let infoName = strdup(OSSL_KDF_PARAM_INFO)!

    /// HKDF-SHA256 (RFC 5869, extract then expand), through EVP_KDF.
    public static func hkdf(key: SecretBytes, salt: [UInt8], info: [UInt8], length: Int) throws -> SecretBytes {
        guard let kdf = EVP_KDF_fetch(nil, "HKDF", nil) else { throw PipelineError(stage: "openssl", "HKDF is not available") }
        defer { EVP_KDF_free(kdf) }
        guard let context = EVP_KDF_CTX_new(kdf) else { throw PipelineError(stage: "openssl", "cannot create an HKDF context") }
        defer { EVP_KDF_CTX_free(context) }
        let output = SecretBytes(count: length)
        var digest = Array("SHA256".utf8CString)
        var saltCopy = salt
        var infoBytes = info
        let ok: Int32 = key.withUnsafeBytes { keyBytes in
            digest.withUnsafeMutableBufferPointer { digestPtr in
                saltCopy.withUnsafeMutableBytes { saltPtr in
                    infoBytes.withUnsafeMutableBytes { infoPtr in
                        let params = [
                            OSSL_PARAM_construct_utf8_string(digestName, digestPtr.baseAddress, 0),
                            OSSL_PARAM_construct_octet_string(keyName, UnsafeMutableRawPointer(mutating: keyBytes.baseAddress), keyBytes.count),
                            OSSL_PARAM_construct_octet_string(saltName, saltPtr.baseAddress, saltPtr.count),
                            OSSL_PARAM_construct_octet_string(infoName, infoPtr.baseAddress, infoPtr.count),
                            OSSL_PARAM_construct_end()
                        ]
                        return output.withUnsafeMutableBytes { out in
                            params.withUnsafeBufferPointer {
                                EVP_KDF_derive(context, out.baseAddress?.assumingMemoryBound(to: UInt8.self), length, $0.baseAddress)
                            }
                        }
                    }
                }
            }
        }
        guard ok == 1 else {
            throw PipelineError(stage: "openssl", "HKDF failed")
        }
        return output
    }

    /// HMAC-SHA256 of `message`, for the key cache's passphrase check.
    public static func hmacSHA256(key: SecretBytes, message: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        key.withUnsafeBytes { k in
            _ = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), message, message.count, &digest, &length)
        }
        return digest
    }

    public static func randomBytes(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else {
            throw PipelineError(stage: "openssl", "the random number generator failed")
        }
        return bytes
    }
}
