/// One `type = "telegram"` store: a chat that a bot posts documents to. The token is named,
/// never written here: it is part of every Bot API URL.
public struct TelegramStoreSettings: Sendable, Equatable {
    /// `https://api.telegram.org`, or a self-hosted Bot API server.
    public var apiBase: String
    public var botToken: SecretSource
    /// `-1001234567890` (a group or channel) or `@channelname`.
    public var chatID: String
    /// Each document is at most this many MiB: ≤ 20 for the cloud Bot API (its download limit).
    public var partSizeMB: Int
    /// A self-hosted server started with `--local`: getFile answers a path on this machine.
    public var localFiles: Bool
    /// walvault's own pace: Telegram takes about 20 messages a minute in a group or channel
    /// (more in a private chat with the bot); 18 stays below it without a 429.
    public var messagesPerMinute: Int
    /// One forum topic per base backup (its parts and its WAL), deleted whole by retention: the
    /// only way a bot deletes messages older than 48 hours. Needs a forum supergroup.
    public var forumTopics: Bool

    public init(
        apiBase: String = "https://api.telegram.org", botToken: SecretSource, chatID: String, partSizeMB: Int = 19, localFiles: Bool = false,
        messagesPerMinute: Int = 18, forumTopics: Bool = false
    ) {
        self.forumTopics = forumTopics
        self.messagesPerMinute = messagesPerMinute
        self.apiBase = apiBase
        self.botToken = botToken
        self.chatID = chatID
        self.partSizeMB = partSizeMB
        self.localFiles = localFiles
    }

    /// The cloud Bot API answers getFile with "file is too big" past 20 MiB.
    public static let cloudHost = "api.telegram.org"
    public static let cloudLimitMB = 20
    public static let partSizeRange = 1...2000
    public static let messagesPerMinuteRange = 1...600

    /// Digits with an optional minus (users, groups, channels), or `@name` (public channels).
    public static func isValidChatID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        if bytes.first == UInt8(ascii: "@") {
            return bytes.count >= 6 && bytes.count <= 33
                && bytes.dropFirst().allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95 }
        }
        let digits = bytes.first == UInt8(ascii: "-") ? bytes.dropFirst() : bytes[...]
        return !digits.isEmpty && digits.count <= 20 && digits.allSatisfy { $0 >= 48 && $0 <= 57 }
    }
}
