import WalvaultCatalog
import WalvaultConfig
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

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
    /// Which walvault starts background workers (ship, prefetch, push-ahead): the CLI itself by
    /// default; a server that is not the CLI names the CLI here.
    public var launcher = BackgroundLauncher.thisExecutable
    /// Why `[cluster] spool` cannot be used, found at load; every step that writes or deletes
    /// there asks `trustedSpool`, so commands that never touch it still run.
    public internal(set) var spoolProblem: CommandError?

    /// `[cluster] spool`, refused when another user owns it or others can write it.
    public var trustedSpool: String? {
        get throws {
            if let spoolProblem { throw spoolProblem }
            return config.cluster.spool
        }
    }

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
        var warnings = try configFileWarnings(configPath, namesThePassphrase: config.encryption != nil)
        if let encryption = config.encryption {
            let (passphrase, passphraseWarnings) = try Passphrase.load(encryption, configPath: configPath)
            warnings += passphraseWarnings
            var cache: KeyCache?
            if case .under(let parent) = encryption.keyCache {
                let opened = KeyCache.open(parent: parent)
                cache = opened.cache
                warnings += opened.warning.map { [$0] } ?? []
            }
            keyRing = KeyRing(passphrase: passphrase, cache: cache)
        }
        for (index, store) in config.stores.enumerated() {
            let key = "stores #\(index + 1)"
            switch store.kind {
            case .s3(let s3): warnings += StoreCredentials.permissionWarning(s3.secretAccessKey, key: key + ".secret_access_key").map { [$0] } ?? []
            case .telegram(let telegram):
                warnings += StoreCredentials.permissionWarning(telegram.botToken, key: key + ".bot_token").map { [$0] } ?? []
            case .local: break
            }
        }
        for store in config.stores where encryptionMissing(store, config) {
            warnings.append(
                "store \"\(store.name)\" sends backups to Telegram unencrypted: Telegram, and anyone who can read chat \(store.telegramChatID ?? ""), can read the database; add an [encryption] section"
            )
        }
        var context = WalvaultContext(
            config: config,
            stores: try config.stores.enumerated().map {
                try makeStore($0.element, index: $0.offset, configPath: configPath, spool: config.cluster.spool, keyRing: keyRing)
            }, keyRing: keyRing, warnings: warnings)
        context.spoolProblem = config.cluster.spool.flatMap { spoolProblem($0, configPath: configPath) }
        return context
    }

    /// Whoever can rewrite the config decides where backups go and what walvault reads: a config
    /// every user can write is refused; one its group can write, or that belongs to a user other
    /// than the one running walvault (or root), is named; so is one others can read when it says
    /// where the passphrase is. Through symlinks: a link's own mode (0777) says nothing.
    package static func configFileWarnings(_ configPath: String, namesThePassphrase: Bool) throws -> [String] {
        guard let status = FileSystem.status(ifReadable: configPath) else { return [] }
        let mode = String(status.mode, radix: 8)
        if status.mode & 0o002 != 0 {
            throw CommandError(
                problem: "the config file \(configPath) can be rewritten by every user (mode \(mode)), who could send the backups anywhere",
                fix: "chmod 600 \(configPath) (or 640, owned by root with the postgres group)")
        }
        var warnings: [String] = []
        if status.mode & 0o020 != 0 {
            warnings.append("the config file \(configPath) can be rewritten by its group (mode \(mode)); run chmod g-w \(configPath)")
        }
        if status.owner != geteuid(), status.owner != 0 {
            warnings.append(
                "the config file \(configPath) belongs to \(FileSystem.userName(status.owner)), not to \(FileSystem.userName(geteuid())) who runs walvault, nor to root: that user decides where backups go; chown root \(configPath)"
            )
        }
        if namesThePassphrase, status.mode & 0o077 != 0 {
            warnings.append(
                "the config file \(configPath) is readable by group or others (mode \(mode)); it says where the passphrase is: run chmod 600 \(configPath)"
            )
        }
        return warnings
    }

    /// The spool holds locks, logs, queues and look-ahead that walvault deletes and truncates,
    /// sometimes as root: one that another user owns or can write is refused, not trusted.
    package static func spoolProblem(_ spool: String, configPath: String) -> CommandError? {
        guard let problem = FileSystem.untrustedDirectoryProblem(spool) else { return nil }
        let owner = FileSystem.status(ifReadable: spool).map { FileSystem.userName($0.owner) } ?? "postgres"
        return CommandError(
            problem: "the spool ([cluster] spool in \(configPath)) cannot be trusted: \(problem)",
            fix: FileSystem.isDirectory(spool)
                ? "run walvault as the spool's owner (sudo -u \(owner) walvault …), and keep the spool private: chmod 700 \(spool)"
                : "point [cluster] spool at a directory (walvault creates it when missing)")
    }

    package static func encryptionMissing(_ store: StoreSettings, _ config: WalvaultConfig) -> Bool {
        if case .telegram = store.kind, config.encryption == nil { return true }
        return false
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

    /// Every store, the sync ones first in config order: where a read looks, the nearest and most
    /// complete copy first, an async store (behind by its queue) only after them.
    public var storesSyncFirst: [Store] {
        syncStores + zip(stores, modes).filter { $0.1 != .sync }.map(\.0)
    }

    /// The sync stores for a command that writes; a config with none (a machine set up only to
    /// restore from an async store) is refused here rather than archiving into nothing.
    public func requireSyncStores(for command: String) throws -> [Store] {
        let stores = syncStores
        guard !stores.isEmpty else {
            throw CommandError(
                problem: "\(command) needs a sync store, and every store in \(config.path) is async",
                fix: "add a sync store (a local directory or S3) as the first [[stores]] entry; an async store (Telegram) is shipped to from it")
        }
        return stores
    }

    /// Indexes into `stores` of the async ones.
    public var asyncIndexes: [Int] { modes.indices.filter { modes[$0] == .async } }

    package var modes: [StoreSettings.Mode] {
        stores.indices.map { $0 < config.stores.count ? config.stores[$0].mode : .sync }
    }

    /// The driver for one `[[stores]]` entry (its credentials read now), layered.
    /// - Parameter index: the entry's position, to name its keys in errors ("stores #2.…").
    /// - Parameters:
    ///   - spool: where a Telegram store stages documents and keeps what it downloaded.
    ///   - keyRing: seals a Telegram store's catalog, which lives below the encryption wrapper.
    public static func makeStore(_ settings: StoreSettings, index: Int = 0, configPath: String = "", spool: String? = nil, keyRing: KeyRing? = nil)
        throws -> Store
    {
        switch settings.kind {
        case .local(let path):
            return layered(LocalStore(name: settings.name, root: path))
        case .s3(let s3):
            let place = "stores #\(index + 1)"
            let keyID = try StoreCredentials.read(s3.accessKeyID, key: place + ".access_key_id", configPath: configPath)
            let secret = try StoreCredentials.read(s3.secretAccessKey, key: place + ".secret_access_key", configPath: configPath)
            let driver = S3Store(
                name: settings.name, endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, prefix: s3.prefix,
                pathStyle: s3.pathStyle, accessKeyID: keyID.withUnsafeBytes { String(decoding: $0, as: UTF8.self) },
                secret: secret)
            return layered(driver)
        case .telegram(let telegram):
            let api = try telegramAPI(settings.name, telegram, index: index, configPath: configPath)
            let work = Paths.join(spool ?? "/tmp", "telegram/\(settings.name)")
            return layered(
                TelegramStore(
                    name: settings.name, api: api, partSize: telegram.partSizeMB << 20, workDirectory: work, keyRing: keyRing,
                    pacer: TelegramPacer(rate: telegram.messagesPerMinute, window: 60), forumTopics: telegram.forumTopics))
        }
    }

    /// The bot of a Telegram store (its token read and checked now): the store's, and the alerts'.
    package static func telegramAPI(
        _ name: String, _ telegram: TelegramStoreSettings, index: Int, configPath: String,
        maxRetryAfterSeconds: Int = 300
    ) throws -> TelegramBotAPI {
        let key = "stores #\(index + 1).bot_token"
        let token = try StoreCredentials.read(telegram.botToken, key: key, configPath: configPath)
        try checkToken(token, key: key, configPath: configPath)
        return TelegramBotAPI(
            store: name, apiBase: telegram.apiBase, token: token, chatID: telegram.chatID, localFiles: telegram.localFiles,
            maxRetryAfterSeconds: maxRetryAfterSeconds)
    }

    /// The newest complete backup the sync stores hold (every store on a machine that only restores).
    package func newestBackup() throws -> BackupManifest? {
        let stores = syncStores.isEmpty ? self.stores : syncStores
        let inventory = try Inventory.read(stores: stores, layout: ArchiveLayout(cluster: config.cluster.name), skippingUnreadable: true)
        return inventory.backups.max { $0.stopTime < $1.stopTime }
    }

    /// A token goes into every URL: one that holds a character a token never has (a space, a
    /// slash, a newline from a file) would make a different URL. Not shown: it is the secret.
    package static func checkToken(_ token: SecretBytes, key: String, configPath: String) throws {
        let valid = token.withUnsafeBytes { bytes in
            !bytes.isEmpty && bytes.allSatisfy { ($0 >= 48 && $0 <= 58) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 45 }
        }
        guard valid else {
            throw ConfigError(
                file: configPath, key: key, problem: "the bot token has characters a Telegram token never has (not shown)",
                fix: "give the token exactly as @BotFather sent it, like 123456789:AAE…, with nothing else")
        }
    }

    /// What every driver gets: retries of transient failures. Encryption goes on top (`init`). A
    /// driver with a size limit or without listing splits and catalogs itself (Telegram does, with
    /// its own pinned catalog), so there is no generic layer that only tests would run.
    public static func layered(_ driver: Store) -> Store {
        RetryingStore(base: driver)
    }
}
