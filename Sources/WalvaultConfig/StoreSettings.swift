/// One `[[stores]]` entry. The kind carries the settings that only make sense for it,
/// so S3 and Telegram stores add cases here without loosening the local one.
public struct StoreSettings: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case local(path: String)
        case s3(S3StoreSettings)
        case telegram(TelegramStoreSettings)
    }

    /// When archive-push and backup count a store as written.
    public enum Mode: String, Sendable, Equatable {
        /// Before archive-push returns: PostgreSQL waits for this store.
        case sync
        /// Later, by `walvault ship` from a durable queue: a slow store never stalls PostgreSQL.
        case async
    }

    public var name: String
    public var kind: Kind
    public var mode: Mode
    /// This store's own retention window, when it differs from `[retention] days`.
    public var retentionDays: Int?
    /// What the provider charges per decimal GB held for a month, for the dashboard's cost column.
    public var pricePerGBMonth: Double?

    public init(name: String, kind: Kind, mode: Mode = .sync, retentionDays: Int? = nil, pricePerGBMonth: Double? = nil) {
        self.name = name
        self.kind = kind
        self.mode = mode
        self.retentionDays = retentionDays
        self.pricePerGBMonth = pricePerGBMonth
    }

    /// The chat of a Telegram store, for messages.
    public var telegramChatID: String? {
        if case .telegram(let telegram) = kind { return telegram.chatID }
        return nil
    }

    /// The `type` values the config accepts today.
    public static let knownTypes = ["local", "s3", "telegram"]

    /// Keys every `[[stores]]` entry has.
    public static let commonKeys = ConfigSchema.section("stores").keyNames
    /// The keys each type takes, in one table (as pgBackRest declares `repo-s3-bucket` only for
    /// `repo-type = s3`), so that `bucket` on a local store is an unknown key, not ignored.
    public static let keysByType: [String: [String]] = Dictionary(
        uniqueKeysWithValues: knownTypes.map { ($0, ConfigSchema.section("stores", storeType: $0).keyNames) })
}
