/// `[backup]`: when a backup without `--type` starts a new chain instead of adding to the last one.
public struct BackupSettings: Sendable, Equatable {
    /// A new full when the newest full is older than this many days.
    public var fullEveryDays: Int
    /// Never more backups than this from a full to the newest incremental, the full included.
    public var maxChain: Int

    public init(fullEveryDays: Int = 7, maxChain: Int = 14) {
        self.fullEveryDays = fullEveryDays
        self.maxChain = maxChain
    }
}
