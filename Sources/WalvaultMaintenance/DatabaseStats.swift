import WalvaultCatalog
import WalvaultConfig
import WalvaultHistory
import WalvaultKit
import WalvaultPolicy
import WalvaultPostgres
import WalvaultSystem

/// The database the dashboard's overview shows: its size, tables and rows now, how it grew
/// (`Growth` over `control_plane.database_sizes`), and when its disk fills at that pace.
public struct DatabaseStats: Codable, Equatable, Sendable {
    public struct Point: Codable, Equatable, Sendable {
        public let at: String
        public let bytes: Int64
    }

    public let database: String
    public let bytes: Int64
    public let tables: Int
    public let rowEstimate: Int64
    public var daily: Int64?
    public var weekly: Int64?
    public var monthly: Int64?
    public var bytesPerDay: Double?
    /// Free bytes on the data directory's file system, when the server can see it.
    public var freeBytes: Int64?
    /// When those fill at `bytesPerDay`; nil while the database is not growing.
    public var fullBy: String?
    /// The last 30 days' samples, at most 240 (`Growth.thinned`), oldest first.
    public var series: [Point] = []

    /// Size, tables and rows now, from the cluster (`[cluster] conninfo`). Rows are the planner's
    /// estimate, or the statistics collector's live count for a table never analysed.
    public static func measure(context: WalvaultContext, now: Int64 = WallClock.nowMicros()) throws -> (database: String, row: DatabaseSizes.Row) {
        let db = try DatabaseTarget(context: context, database: nil, command: "the database's size").connect()
        let values = try db.query(
            """
            SELECT current_database(), pg_database_size(current_database())::text, count(*)::text,
                   coalesce(sum(CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE coalesce(s.n_live_tup, 0) END), 0)::bigint::text
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
            WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
            """)
        guard let row = values.first, let bytes = Int64(row[1] ?? ""), let tables = Int(row[2] ?? ""), let rows = Int64(row[3] ?? "") else {
            throw CommandError(problem: "the server did not report the database's size", fix: "check that conninfo names a PostgreSQL server")
        }
        return (row[0] ?? "", DatabaseSizes.Row(at: now, bytes: bytes, tables: tables, rowEstimate: rows))
    }

    /// Measures and records one sample in the control plane (the server's timer, `walvault check`).
    @discardableResult
    public static func sample(context: WalvaultContext, now: Int64 = WallClock.nowMicros()) throws -> DatabaseSizes.Row {
        guard let settings = context.config.history else {
            throw CommandError(problem: "config \(context.config.path) has no [history] section", fix: "add [history]: the samples live there")
        }
        let measured = try measure(context: context, now: now).row
        let db = try PostgresConnection(
            conninfo: settings.conninfo, database: .controlPlane, connectTimeout: HistoryRecorder.connectTimeoutSeconds)
        do {
            try DatabaseSizes.record(db, projectID: settings.projectID, measured)
        } catch {
            throw CommandError(
                problem: "cannot record the database's size in control_plane.database_sizes: \(error)",
                fix: "run walvault migrate (migration 0005 adds the table)")
        }
        return measured
    }

    /// Now, and the growth the samples show (none without `[history]`).
    public static func gather(context: WalvaultContext, now: Int64 = WallClock.nowMicros()) throws -> DatabaseStats {
        let (database, current) = try measure(context: context, now: now)
        var stats = DatabaseStats(database: database, bytes: current.bytes, tables: current.tables, rowEstimate: current.rowEstimate)
        if let settings = context.config.history {
            let db = try PostgresConnection(
                conninfo: settings.conninfo, database: .controlPlane, connectTimeout: HistoryRecorder.connectTimeoutSeconds)
            let rows = try DatabaseSizes.read(db, projectID: settings.projectID, since: now - 31 * 86_400_000_000)
            let samples = rows.map { Growth.Sample(at: $0.at, bytes: $0.bytes) } + [Growth.Sample(at: now, bytes: current.bytes)]
            let summary = Growth.summary(samples)
            stats.daily = summary.daily
            stats.weekly = summary.weekly
            stats.monthly = summary.monthly
            stats.bytesPerDay = summary.bytesPerDay
            stats.series = Growth.thinned(samples.filter { $0.at >= now - 30 * 86_400_000_000 }, points: 240).map {
                Point(at: RecoveryTarget.formatUTC($0.at), bytes: $0.bytes)
            }
        }
        if let pgdata = context.config.cluster.pgdata, let free = try? FileSystem.availableBytes(pgdata) { stats.freeBytes = Int64(free) }
        if let free = stats.freeBytes, let days = Growth.daysUntilFull(bytesPerDay: stats.bytesPerDay, freeBytes: free), days < 36_500 {
            stats.fullBy = RecoveryTarget.formatUTC(now + Int64(days * 86_400_000_000))
        }
        return stats
    }
}
