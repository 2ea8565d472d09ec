/// `[alerts]`: who hears about failures, and when. Every channel is optional; secrets (the
/// webhook URL, which usually carries a token, and the SMTP login) are named, never written here.
public struct AlertSettings: Sendable, Equatable {
    /// Failure alerts through the bot of the (first) Telegram store, to this chat.
    public var telegramChatID: String?
    /// The environment variable holding the webhook URL (Slack, Discord, anything taking JSON).
    public var webhookURL: SecretSource?
    public var emailTo: [String]
    public var emailFrom: String?
    public var smtpURL: String?
    public var smtpUser: SecretSource?
    public var smtpPassword: SecretSource?
    /// Alert when the newest complete backup is older than this.
    public var backupMaxAgeHours: Int
    /// Consecutive failures of archive-push or ship for one store before the alert.
    public var afterFailures: Int

    public init(
        telegramChatID: String? = nil, webhookURL: SecretSource? = nil, emailTo: [String] = [], emailFrom: String? = nil, smtpURL: String? = nil,
        smtpUser: SecretSource? = nil, smtpPassword: SecretSource? = nil, backupMaxAgeHours: Int = 28, afterFailures: Int = 3
    ) {
        self.telegramChatID = telegramChatID
        self.webhookURL = webhookURL
        self.emailTo = emailTo
        self.emailFrom = emailFrom
        self.smtpURL = smtpURL
        self.smtpUser = smtpUser
        self.smtpPassword = smtpPassword
        self.backupMaxAgeHours = backupMaxAgeHours
        self.afterFailures = afterFailures
    }

    /// A plausible address: one '@', something on both sides, no spaces or angle brackets
    /// (they would break the SMTP envelope).
    public static func isValidAddress(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let at = bytes.firstIndex(of: UInt8(ascii: "@")), at > 0, at < bytes.count - 1,
            bytes.filter({ $0 == UInt8(ascii: "@") }).count == 1
        else { return false }
        return bytes.allSatisfy { $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") && $0 != UInt8(ascii: ",") }
    }
}
