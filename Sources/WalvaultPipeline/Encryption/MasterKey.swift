/// The key PBKDF2 derives from the passphrase and one KDF salt. It never encrypts data
/// itself: every object gets its own keys from it through HKDF and the object's random salt,
/// so that counter nonces never repeat under one key and objects cannot be spliced.
public final class MasterKey: Sendable {
    public let salt: [UInt8]
    public let iterations: Int
    let key: SecretBytes

    public init(salt: [UInt8], iterations: Int, key: SecretBytes) {
        self.salt = salt
        self.iterations = iterations
        self.key = key
    }

    static let dataKeyInfo = Array("walvault/v1 data key".utf8)
    static let keyCheckInfo = Array("walvault/v1 key check".utf8)

    /// The AES-256-GCM key and the header's key check for one object.
    func objectKeys(objectSalt: [UInt8]) throws -> (dataKey: SecretBytes, keyCheck: SecretBytes) {
        (
            try KeyDerivation.hkdf(key: key, salt: objectSalt, info: Self.dataKeyInfo, length: 32),
            try KeyDerivation.hkdf(key: key, salt: objectSalt, info: Self.keyCheckInfo, length: EncryptionHeader.keyCheckSize)
        )
    }
}
