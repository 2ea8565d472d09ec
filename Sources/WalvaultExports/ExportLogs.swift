import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultPipeline
import WalvaultPostgres
import WalvaultRepository
import WalvaultShipping
import WalvaultStores
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

public struct ExportLogsOptions: Sendable {
    public var table = "project_logs"
    public var timeColumn = "created_at"
    /// µs since the epoch; nil: from the first row.
    public var since: Int64?
    /// µs, excluded; nil: the moment the export starts.
    public var until: Int64?
    public var format: ExportFormat = .jsonl
    public var database: String?
    public var deleteExported = false
    /// Rows per FETCH from the cursor: what bounds memory.
    public var batchRows = 5000
    /// How long `deleteExported` waits for the async stores to hold the export before it keeps
    /// the rows instead.
    public var asyncWaitSeconds: Double = 60

    public init(
        table: String = "project_logs", timeColumn: String = "created_at", since: Int64? = nil, until: Int64? = nil,
        format: ExportFormat = .jsonl, database: String? = nil, deleteExported: Bool = false
    ) {
        self.table = table
        self.timeColumn = timeColumn
        self.since = since
        self.until = until
        self.format = format
        self.database = database
        self.deleteExported = deleteExported
    }
}

public struct ExportLogsResult: Codable, Equatable, Sendable {
    public let table: String
    public let database: String
    /// nil when the range held no rows (nothing is stored then).
    public let id: String?
    public let key: String?
    public let format: String
    public let rows: Int
    /// µs; `since` nil when the range is open at the start.
    public let since: Int64?
    public let until: Int64
    public let size: Int
    public let sha256: String?
    public let stored: [String: Int]
    public let queuedFor: [String]
    /// Rows `--delete-exported` removed (nil without it).
    public let deleted: Int?
    public let seconds: Double

    public var lines: [String] {
        let range = "\(since.map(RecoveryTarget.formatUTC) ?? "the first row") to \(RecoveryTarget.formatUTC(until)) (excluded)"
        guard let id else { return ["no rows of \(table) from \(range): nothing was stored"] }
        var lines = [
            "exported \(rows) rows of \(table) from \(range) as \(id): \(size) bytes (\(format)) in \(String(format2: seconds)) s, "
                + "\(seconds > 0 ? String(Int(Double(rows) / seconds)) : "?") rows/s, stored in \(stored.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", "))"
                + (queuedFor.isEmpty ? "" : "; queued for " + queuedFor.map { "\"\($0)\"" }.joined(separator: ", "))
        ]
        if let deleted { lines.append("deleted the \(deleted) exported rows from \(table)") }
        return lines
    }
}

/// `walvault export-logs`: the rows of a table in a time range, as JSON lines (PostgreSQL's
/// row_to_json, through a server-side cursor, a batch at a time) or CSV (PostgreSQL's COPY),
/// streamed into the stores; memory stays one batch whatever the table's size. All of it runs in
/// one REPEATABLE READ transaction, so `--delete-exported` deletes exactly the rows that were
/// exported (rows added or changed since are not visible to it), and only after the export is
/// durable in every sync store.
public struct ExportLogs {
    public let context: WalvaultContext
    public let options: ExportLogsOptions

    public init(context: WalvaultContext, options: ExportLogsOptions) {
        self.context = context
        self.options = options
    }

    public func run(events: OperationObserver = IgnoredEvents()) throws -> ExportLogsResult {
        try events.run("export-logs", type: .logs, subject: options.table, summary: summary) {
            try export(progress: { events.receive(.progressed(note: $0)) }, warn: { events.receive(.warning($0)) })
        }
    }

    package func summary(_ result: ExportLogsResult) -> (stored: [(store: String, key: String, facts: OperationFacts)], facts: OperationFacts?) {
        var facts = OperationFacts(objectName: result.id ?? result.table, size: result.size, sha256: result.sha256)
        facts.rowCount = result.rows
        facts.rangeStart = result.since
        facts.rangeEnd = result.until
        facts.rowsDeleted = result.deleted
        guard let key = result.key else { return ([], facts) }
        return (
            result.stored.keys.sorted().map { store in
                var f = facts
                f.storedSize = result.stored[store]
                return (store, key, f)
            }, nil
        )
    }

    private func export(progress: (String) -> Void, warn: (String) -> Void) throws -> ExportLogsResult {
        let table = try SQLIdentifier.checkUserTable(options.table, option: "--table")
        let column = try SQLIdentifier.check(options.timeColumn, what: "column", option: "--time-column")
        guard !options.format.isDump else {
            throw CommandError(
                problem: "--format \(options.format.rawValue) is not a rows format", fix: "use jsonl or csv", errorCode: "input.invalid")
        }
        let clock = Stopwatch()
        let start = WallClock.nowMicros()
        let until = options.until ?? start
        if let since = options.since, since >= until {
            throw CommandError(
                problem: "--since \(RecoveryTarget.formatUTC(since)) is not before --until \(RecoveryTarget.formatUTC(until))",
                fix: "give a range that is not empty", errorCode: "input.invalid")
        }
        let target = try DatabaseTarget(context: context, database: options.database, command: "export-logs")
        _ = try context.requireSyncStores(for: "export-logs")
        let db = try target.connect()
        try checkTable(table, column: column, db, database: target.name)

        // Times as exact integers of µs, in SQL this process wrote (COPY takes no parameters).
        func moment(_ micros: Int64) -> String { "('epoch'::timestamptz + \(micros) * interval '1 microsecond')" }
        var condition = "t.\(column) < \(moment(until))"
        if let since = options.since { condition = "t.\(column) >= \(moment(since)) AND " + condition }

        try db.query("BEGIN ISOLATION LEVEL REPEATABLE READ")
        var committed = false
        defer { if !committed { _ = try? db.query("ROLLBACK") } }
        try db.query("SET LOCAL TimeZone = 'UTC'")
        let compression = context.config.compression
        let writer = try ExportWriter(
            context: context, directory: ArchiveLayout(cluster: context.config.cluster.name).logsDirectory(table),
            time: start, format: options.format, compression: compression.algorithm, level: compression.level)
        var rows = 0
        do {
            switch options.format {
            case .jsonl:
                try db.query(
                    "DECLARE walvault_export NO SCROLL CURSOR FOR SELECT row_to_json(t)::text FROM \(table) t WHERE \(condition) ORDER BY t.\(column)"
                )
                let newline: [UInt8] = [10]
                while true {
                    let fetched = try db.forEachValue("FETCH FORWARD \(options.batchRows) FROM walvault_export") { value in
                        if let value { try writer.write(value) }
                        try newline.withUnsafeBytes { try writer.write($0) }
                    }
                    rows += fetched
                    if fetched < options.batchRows { break }
                    if rows % 1_000_000 < options.batchRows { progress("\(rows) rows exported") }
                }
                try db.query("CLOSE walvault_export")
            case .csv:
                rows = try db.copyOut("COPY (SELECT * FROM \(table) t WHERE \(condition) ORDER BY t.\(column)) TO STDOUT WITH (FORMAT csv, HEADER)") {
                    bytes in
                    try writer.write(bytes)
                }
            case .custom, .plain:
                break
            }
        } catch {
            writer.abort()
            throw error
        }
        guard rows > 0 else {
            writer.abort()
            return ExportLogsResult(
                table: table, database: target.name, id: nil, key: nil, format: options.format.rawValue, rows: 0, since: options.since,
                until: until, size: 0, sha256: nil, stored: [:], queuedFor: [], deleted: options.deleteExported ? 0 : nil, seconds: clock.seconds)
        }
        let stored = try writer.commit()
        stored.notQueued.forEach(warn)
        var deleted: Int?
        if options.deleteExported {
            // These rows will exist nowhere but in the export: every store must hold it, the
            // async ones too, before they go.
            // Every async store, the ones whose full queue did not take it too (a catch-up by
            // listing may still bring it there in time; if not, the rows stay).
            let lacking = awaitAsyncStores(key: stored.key, stores: context.asyncIndexes.map { context.stores[$0].name })
            guard lacking.isEmpty else {
                throw CommandError(
                    problem:
                        "the export \(table)/\(stored.name.stamp) is stored, but its rows were kept: async store\(lacking.count == 1 ? "" : "s") \(lacking.map { "\"\($0)\"" }.joined(separator: ", ")) did not hold it within \(Int(options.asyncWaitSeconds)) s, and deleted rows would exist nowhere else",
                    fix: "see why walvault ship cannot reach it (<spool>/ship.log), then run export-logs --delete-exported again for the same range")
            }
            // Same snapshot as the export: rows inserted or changed since are not touched (a
            // changed one makes the DELETE fail rather than delete what was not exported).
            let count: Int
            do {
                count = Int(try db.value("WITH gone AS (DELETE FROM \(table) t WHERE \(condition) RETURNING 1) SELECT count(*) FROM gone")) ?? -1
            } catch {
                throw CommandError(
                    cause: error, problem: "the export \(table)/\(stored.name.stamp) is stored, but its rows were not deleted: \(error)",
                    fix: "rows in the range changed while it ran; run export-logs --delete-exported again for the same range")
            }
            guard count == rows else {
                throw CommandError(
                    problem:
                        "the export \(table)/\(stored.name.stamp) is stored, but deleting its range would remove \(count) rows, not the \(rows) exported; nothing was deleted",
                    fix: "run export-logs --delete-exported again for the same range")
            }
            deleted = count
        }
        try db.query("COMMIT")
        committed = true
        return ExportLogsResult(
            table: table, database: target.name, id: "\(table)/\(stored.name.stamp)", key: stored.key, format: options.format.rawValue,
            rows: rows, since: options.since, until: until, size: stored.size, sha256: stored.name.sha256,
            stored: Dictionary(uniqueKeysWithValues: stored.storedSizes.map { ($0.store, $0.size) }), queuedFor: stored.queuedFor,
            deleted: deleted, seconds: clock.seconds)
    }

    /// Ships the queue (another shipper may be doing it already) until every async store in
    /// `stores` holds `key`, or `asyncWaitSeconds` pass. - Returns: the stores that still lack it.
    package func awaitAsyncStores(key: String, stores: [String]) -> [String] {
        guard !stores.isEmpty else { return [] }
        let waiting = Stopwatch()
        var lacking = stores
        while true {
            lacking = lacking.filter { name in
                guard let store = context.rawStores.first(where: { $0.name == name }) else { return true }
                return (try? store.head(key: key)) == nil
            }
            guard !lacking.isEmpty, waiting.seconds < options.asyncWaitSeconds else { return lacking }
            _ = try? Ship(context: context).run(sweepUploads: false)
            usleep(250_000)
        }
    }

    /// The table is a table on the search path, and the time column is one of its columns and holds times.
    private func checkTable(_ table: String, column: String, _ db: PostgresConnection, database: String) throws {
        let found = try db.query(
            """
            SELECT n.nspname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = to_regclass($1)
            """, [table])
        let missing = CommandError(
            problem: "table \(table) does not exist in database \(database) (on its search_path)",
            fix: "check the name (psql: \\dt), or give the database with --database", errorCode: "input.invalid")
        guard let row = found.first, let schema = row[0] else { throw missing }
        // A search_path that reaches a system schema first (information_schema.tables) is refused too.
        guard !SQLIdentifier.isSystemSchema(schema) else {
            throw CommandError(
                problem: "--table \(table) is \(schema).\(table), a system table of PostgreSQL, which walvault never exports or deletes from",
                fix: "name the application's own table, or set the search_path of the role in [cluster] conninfo", errorCode: "input.invalid")
        }
        guard row[1] == "r" || row[1] == "p" else { throw missing }
        let type =
            try db.query(
                """
                SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped
                """, [table, column]
            ).first?.first ?? nil
        guard let type else {
            throw CommandError(
                problem: "table \(table) has no column \(column)", fix: "name its time column with --time-column", errorCode: "input.invalid")
        }
        guard type.hasPrefix("timestamp") || type == "date" else {
            throw CommandError(
                problem: "column \(column) of \(table) is \(type), not a time",
                fix: "name a timestamptz, timestamp or date column with --time-column",
                errorCode: "input.invalid")
        }
    }
}
