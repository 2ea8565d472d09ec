import WalvaultCatalog
import WalvaultConfig
import WalvaultHistory
import WalvaultKit
import WalvaultPostgres

/// `walvault migrate` and `walvault history` as library operations, so the dashboard calls the
/// same code. Both read only the config: the history needs no store and no passphrase.
public struct ControlPlane {
    public let settings: HistorySettings

    public init(configPath: String) throws {
        try self.init(config: ConfigLoader.load(path: configPath))
    }

    /// From a config already loaded: the server's way, once per request. (Parsing the file per
    /// request also leaked about 3.7 KB each time inside TOMLKit, LebJe/TOMLKit#26.)
    public init(config: WalvaultConfig) throws {
        guard let settings = config.history else {
            throw CommandError(problem: "config \(config.path) has no [history] section", fix: "add [history] with conninfo and project_id")
        }
        self.settings = settings
    }

    public struct MigrationReport: Equatable {
        public let outcome: Migrator.Outcome
        /// Journal records this run replayed into the table.
        public let replayed: Int
        public let journal: String
    }

    /// Applies the missing migrations, then replays the journal.
    public func migrate() throws -> MigrationReport {
        let db = try PostgresConnection(conninfo: settings.conninfo, database: .controlPlane)
        let outcome = try Migrator.migrate(db)
        let replayed = try HistoryRecorder(settings: settings).replay(db)
        return MigrationReport(outcome: outcome, replayed: replayed, journal: settings.journalFile)
    }

    /// This project's rows, oldest first, after replaying the journal.
    /// - Parameter since: µs since the epoch.
    public func rows(type: HistoryRecord.Kind?, since: Int64?) throws -> [[String: String]] {
        try rows(HistoryQuery.Filter(type: type?.rawValue, since: since.map(RecoveryTarget.formatUTC)))
    }

    /// A page of rows, after replaying the journal (the dashboard's history table).
    public func rows(_ filter: HistoryQuery.Filter) throws -> [[String: String]] {
        let db = try PostgresConnection(conninfo: settings.conninfo, database: .controlPlane)
        try HistoryRecorder(settings: settings).replay(db)
        return try HistoryQuery.rows(db, projectID: settings.projectID, filter: filter)
    }
}
