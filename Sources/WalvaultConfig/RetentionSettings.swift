/// `[retention]`: how far back any moment must stay restorable. One number for every store unless a
/// store sets its own `retention_days` (a fast local tier keeping less than the cloud).
public struct RetentionSettings: Sendable, Equatable {
    public var days: Int
    /// Tell the owner, through `[alerts]`, which backups expire within this many days (once each).
    public var notifyBeforeDays: Int?
    /// How long a log export (`export-logs`) is kept: it holds rows deleted from the database,
    /// so it stays at least this long; nil keeps log exports for ever.
    public var logsDays: Int?

    public init(days: Int, notifyBeforeDays: Int? = nil, logsDays: Int? = nil) {
        self.days = days
        self.notifyBeforeDays = notifyBeforeDays
        self.logsDays = logsDays
    }
}
