import COpenSSL

/// How a file-tree repository names its chunks and where it cuts them. Without `[encryption]`,
/// a chunk is named by its SHA-256 and cut by a public gear table. With it, a chunk's name is an
/// HMAC-SHA256 under a key derived from the passphrase, and the gear table's seed is secret too:
/// a store (or anyone reading it) could otherwise recognise a known file by its chunks' names or
/// sizes. The keys come from PBKDF2 over a salt fixed by the repository's name, so every store
/// and every machine with the same passphrase names a chunk the same way and finds it again.
public struct ChunkKeys: Sendable {
    private let idKey: SecretBytes?
    public let gear: GearTable

    public static let unkeyed = ChunkKeys(idKey: nil, gear: .unkeyed)

    private init(idKey: SecretBytes?, gear: GearTable) {
        self.idKey = idKey
        self.gear = gear
    }

    public var isKeyed: Bool { idKey != nil }

    /// How a snapshot's header names this scheme: a snapshot restores only under the same one.
    public var scheme: String { isKeyed ? "hmac-sha256" : "sha256" }

    /// - Parameter repository: what names the repository in every store (the cluster's name).
    public static func derive(keyRing: KeyRing, repository: String) throws -> ChunkKeys {
        let salt = Array(SHA256Hasher.bytes(of: Array("walvault/v1 files repository \(repository)".utf8)).prefix(EncryptionHeader.kdfSaltSize))
        let master = try keyRing.masterKey(salt: salt, iterations: keyRing.iterations)
        let idKey = try KeyDerivation.hkdf(key: master.key, salt: [], info: Array("walvault/v1 files chunk id".utf8), length: 32)
        let seed = try KeyDerivation.hkdf(key: master.key, salt: [], info: Array("walvault/v1 files chunker".utf8), length: 32)
        return ChunkKeys(idKey: idKey, gear: GearTable(seed: seed.withUnsafeBytes { Array($0) }))
    }

    /// A chunk's 32-byte name.
    public func id(of bytes: UnsafeRawBufferPointer) -> [UInt8] {
        guard let idKey else {
            let hasher = SHA256Hasher()
            hasher.update(bytes)
            return hasher.finalizeBytes()
        }
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        idKey.withUnsafeBytes { key in
            _ = HMAC(
                EVP_sha256(), key.baseAddress, Int32(key.count), bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &digest, &length
            )
        }
        return digest
    }
}
