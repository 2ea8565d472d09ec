import WalvaultConfig
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// A loaded config and the stores it names, built once per process.
public struct WalvaultContext: Sendable {
    public let config: WalvaultConfig
    /// Every store as commands see it: wrapped by `EncryptedStore` when [encryption] is set,
    /// by `UnencryptedStore` otherwise, so neither kind of store can be mistaken for the other.
    public let stores: [Store]
    /// The same stores below encryption: what `ship` copies byte for byte between stores.
    public let rawStores: [Store]
    public let keyRing: KeyRing?
    /// Things to tell the user that do not stop the command (a passphrase file others can read).
    public let warnings: [String]

    public init(config: WalvaultConfig, stores: [Store], keyRing: KeyRing? = nil, warnings: [String] = []) {
        self.config = config
        rawStores = stores
        self.stores = stores.map { Self.wrap($0, keyRing: keyRing) }
        self.keyRing = keyRing
        self.warnings = warnings
    }

    public static func load(configPath: String) throws -> WalvaultContext {
        let config = try ConfigLoader.load(path: configPath)
        var keyRing: KeyRing?
        var warnings: [String] = []
        if let encryption = config.encryption {
            let (passphrase, passphraseWarnings) = try Passphrase.load(encryption, configPath: configPath)
            warnings += passphraseWarnings
            // Through symlinks: a link's own mode (0777) says nothing about who can read the file.
            if let status = try? FileSystem.status(FileSystem.realPath(configPath) ?? configPath), status.mode & 0o077 != 0 {
                warnings.append("the config file \(configPath) is readable by group or others (mode \(String(status.mode, radix: 8))); it says where the passphrase is: run chmod 600 \(configPath)")
            }
            var cache: KeyCache?
            if case .under(let parent) = encryption.keyCache {
                let opened = KeyCache.open(parent: parent)
                cache = opened.cache
                warnings += opened.warning.map { [$0] } ?? []
            }
            keyRing = KeyRing(passphrase: passphrase, cache: cache)
        }
        return WalvaultContext(config: config, stores: try config.stores.enumerated().map { try makeStore($0.element, index: $0.offset, configPath: configPath) }, keyRing: keyRing, warnings: warnings)
    }

    /// How commands see a store: encrypted when [encryption] is set, refused as plaintext otherwise.
    public static func wrap(_ store: Store, keyRing: KeyRing?) -> Store {
        if let keyRing { return EncryptedStore(base: store, keyRing: keyRing) }
        return UnencryptedStore(base: store)
    }

    /// Stores archive-push and backup write before they return: every store, when the config has
    /// none async (tests build contexts with more stores than settings).
    public var syncStores: [Store] {
        zip(stores, modes).filter { $0.1 == .sync }.map(\.0)
    }

    /// Indexes into `stores` of the async ones.
    public var asyncIndexes: [Int] { modes.indices.filter { modes[$0] == .async } }

    var modes: [StoreSettings.Mode] {
        stores.indices.map { $0 < config.stores.count ? config.stores[$0].mode : .sync }
    }

    /// The driver for one `[[stores]]` entry (its credentials read now), layered.
    /// - Parameter index: the entry's position, to name its keys in errors ("stores #2.…").
    public static func makeStore(_ settings: StoreSettings, index: Int = 0, configPath: String = "") throws -> Store {
        switch settings.kind {
        case .local(let path):
            return layered(LocalStore(name: settings.name, root: path))
        case .s3(let s3):
            let place = "stores #\(index + 1)"
            let keyID = try StoreCredentials.read(s3.accessKeyID, key: place + ".access_key_id", configPath: configPath)
            let secret = try StoreCredentials.read(s3.secretAccessKey, key: place + ".secret_access_key", configPath: configPath)
            let driver = S3Store(name: settings.name, endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, prefix: s3.prefix,
                                 pathStyle: s3.pathStyle, accessKeyID: keyID.withUnsafeBytes { String(decoding: $0, as: UTF8.self) },
                                 secret: secret)
            return layered(driver)
        }
    }

    /// What every driver gets, closest to the driver first: retries of transient failures, objects
    /// split to its size limit, and a catalog when it cannot list. Encryption goes on top (`init`).
    public static func layered(_ driver: Store) -> Store {
        CatalogingStore.wrapping(SplittingStore.wrapping(RetryingStore(base: driver)))
    }
}
