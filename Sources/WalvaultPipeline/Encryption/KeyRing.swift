import Synchronization
import WalvaultSystem

/// The passphrase and the master keys derived from it in this process. PBKDF2 runs at most
/// once per KDF salt per process (and, with the cache, once per salt per boot), never per
/// object or chunk. Writers reuse the salt of the first key they met, usually the one in
/// the store's archive.info, so that a store's objects share a handful of salts and a
/// restore derives a handful of keys, not one per object.
public final class KeyRing: Sendable {
    public static let defaultIterations = 600_000

    private let passphrase: SecretBytes
    public let iterations: Int
    public let cache: KeyCache?
    private let keys = Mutex<[MasterKey]>([])
    private let derivationCount = Atomic<Int>(0)

    public init(passphrase: SecretBytes, iterations: Int = defaultIterations, cache: KeyCache?) {
        self.passphrase = passphrase
        self.iterations = iterations
        self.cache = cache
    }

    /// How many times PBKDF2 ran in this process; tests use it to prove the caching.
    /// For handing the passphrase to a child walvault (`ship`, started by archive-push) the way
    /// this process got it; nothing else reads it back.
    public func withPassphrase<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try passphrase.withUnsafeBytes(body)
    }

    public var derivations: Int { derivationCount.load(ordering: .relaxed) }

    /// The master key for a header's KDF salt and iteration count.
    public func masterKey(salt: [UInt8], iterations: Int) throws -> MasterKey {
        try key {
            $0 == salt && $1 == iterations
        } orDerive: {
            try derive(salt: salt, iterations: iterations)
        }
    }

    /// The master key new objects are encrypted under.
    public func writingKey() throws -> MasterKey {
        try key {
            $1 == iterations
        } orDerive: {
            try derive(salt: KeyDerivation.randomBytes(EncryptionHeader.kdfSaltSize), iterations: iterations)
        }
    }

    /// The first key that matches (salt, iterations): from this process, else from the cache,
    /// else a new derivation.
    private func key(_ matches: ([UInt8], Int) -> Bool, orDerive: () throws -> MasterKey) throws -> MasterKey {
        try keys.withLock { keys in
            if let key = keys.first(where: { matches($0.salt, $0.iterations) }) { return key }
            let key =
                try cache?.entries(passphrase: passphrase).first(where: { matches($0.salt, $0.iterations) })
                .map { MasterKey(salt: $0.salt, iterations: $0.iterations, key: $0.key) } ?? orDerive()
            keys.append(key)
            return key
        }
    }

    private func derive(salt: [UInt8], iterations: Int) throws -> MasterKey {
        derivationCount.add(1, ordering: .relaxed)
        let key = MasterKey(
            salt: salt, iterations: iterations,
            key: try KeyDerivation.pbkdf2(passphrase: passphrase, salt: salt, iterations: iterations))
        cache?.save(key, passphrase: passphrase)
        return key
    }
}
