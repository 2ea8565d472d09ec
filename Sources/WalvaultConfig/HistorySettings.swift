import WalvaultSystem

/// `[history]`: where every operation is recorded. Optional: without it walvault records nothing.
public struct HistorySettings: Sendable, Equatable {
    /// libpq connection string of the control-plane database (may hold a password: never printed).
    public var conninfo: String
    public var projectID: String
    /// Where records wait while the database cannot be reached: a file, or a directory (existing,
    /// or written with a trailing slash) in which the file is `history.journal`.
    public var journal: String
    public var retentionDays: Int

    public static let defaultJournal = "/var/lib/walvault/journal"
    public static let journalFileName = "history.journal"

    /// The journal file itself, wherever `journal` points.
    public var journalFile: String {
        journal.hasSuffix("/") || FileSystem.isDirectory(journal) ? Paths.join(journal, Self.journalFileName) : journal
    }
    public static let defaultRetentionDays = 30

    public init(
        conninfo: String, projectID: String, journal: String = HistorySettings.defaultJournal,
        retentionDays: Int = HistorySettings.defaultRetentionDays
    ) {
        self.conninfo = conninfo
        self.projectID = projectID
        self.journal = journal
        self.retentionDays = retentionDays
    }
}
