import WalvaultKit
import WalvaultPostgres

/// `pg_stat_archiver` as PostgreSQL counts it: the figures an owner compares with walvault's own
/// when WAL stops arriving (a failing archive_command shows here first).
public struct ArchiverStatistics: Codable, Equatable, Sendable {
    public let archivedCount: Int64
    public let lastArchivedWAL: String?
    public let lastArchivedTime: String?
    public let failedCount: Int64
    public let lastFailedWAL: String?
    public let lastFailedTime: String?
    public let statsReset: String?

    /// Whether the archiver's last attempt failed: a failure newer than the last success, judged
    /// by the server as `PostgresBackupSession.facts` judges it.
    public let failing: Bool

    public static func read(context: WalvaultContext) throws -> ArchiverStatistics {
        let db = try DatabaseTarget(context: context, database: nil, command: "pg_stat_archiver").connect()
        let rows = try db.query(
            """
            SELECT archived_count::text, last_archived_wal, last_archived_time::text, failed_count::text, last_failed_wal,
                   last_failed_time::text, stats_reset::text,
                   (last_failed_time > coalesce(last_archived_time, '-infinity'))::text
            FROM pg_stat_archiver
            """)
        guard let row = rows.first, let archived = Int64(row[0] ?? ""), let failed = Int64(row[3] ?? "") else {
            throw CommandError(problem: "the server returned no row from pg_stat_archiver", fix: "check that conninfo names a PostgreSQL server")
        }
        return ArchiverStatistics(
            archivedCount: archived, lastArchivedWAL: row[1], lastArchivedTime: row[2], failedCount: failed, lastFailedWAL: row[4],
            lastFailedTime: row[5], statsReset: row[6], failing: row[7] == "true")
    }
}
