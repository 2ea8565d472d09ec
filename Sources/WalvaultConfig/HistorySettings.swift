/// `[history]`: where every operation is recorded. Optional: without it walvault records nothing.
public struct HistorySettings: Sendable, Equatable {
    /// libpq connection string of the control-plane database (may hold a password: never printed).
    public var conninfo: String
    public var projectID: String
    /// Append-only local file that holds records while the database cannot be reached.
    public var journal: String
    public var retentionDays: Int

    public static let defaultJournal = "/var/lib/walvault/journal"
    public static let defaultRetentionDays = 30

    public init(conninfo: String, projectID: String, journal: String = HistorySettings.defaultJournal,
                retentionDays: Int = HistorySettings.defaultRetentionDays) {
        self.conninfo = conninfo
        self.projectID = projectID
        self.journal = journal
        self.retentionDays = retentionDays
    }
}
