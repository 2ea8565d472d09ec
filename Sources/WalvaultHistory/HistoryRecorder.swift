import WalvaultConfig
import WalvaultPostgres
import WalvaultSystem

/// Writes history rows without ever failing the operation they describe: when the control-plane
/// database is down, slow or not migrated, the row goes to the journal, and the next run that
/// reaches the database replays the journal first.
public struct HistoryRecorder {
    public static let connectTimeoutSeconds = 3
    /// After a failed attempt, runs within this many seconds journal at once instead of waiting
    /// for the connect timeout again: a busy server archives a segment every few seconds, and
    /// 3 s per push while the control plane is down would let pg_wal fill up.
    public static let retryAfterSeconds: Int64 = 60
    public let settings: HistorySettings
    public var journal: HistoryJournal { HistoryJournal(path: settings.journalFile) }

    public init(settings: HistorySettings) { self.settings = settings }

    func connect() throws -> PostgresConnection {
        do {
            let db = try PostgresConnection(
                conninfo: settings.conninfo, database: .controlPlane,
                connectTimeout: Self.connectTimeoutSeconds)
            try? FileSystem.remove(unreachableMarker)
            return db
        } catch let error as PostgresError where error.isConnectionFailure {
            try? FileSystem.writeAtomically(unreachableMarker, contents: [], mode: 0o600)
            throw error
        }
    }

    /// Marks when the database was last found unreachable (its modification time is what counts).
    var unreachableMarker: String { settings.journalFile + ".unreachable" }

    /// When a recent attempt failed, the time it failed (µs since the epoch).
    func recentFailure(now: Int64) -> Int64? {
        guard let status = try? FileSystem.status(unreachableMarker), status.kind == .file,
            now - status.modifiedAt < Self.retryAfterSeconds * 1_000_000
        else { return nil }
        return status.modifiedAt
    }

    /// Stores the records; returns a warning to print when they had to go to the journal.
    public func record(_ records: [HistoryRecord]) -> String? {
        guard !records.isEmpty else { return nil }
        if let failedAt = recentFailure(now: HistoryRecord.now()) {
            return journalOnly(
                records,
                why:
                    "the control-plane database was unreachable \((HistoryRecord.now() - failedAt) / 1_000_000) s ago, next attempt after \(Self.retryAfterSeconds) s"
            )
        }
        do {
            let db = try connect()
            try replay(db)
            try db.query("BEGIN")
            for record in records { try Self.insert(record, into: db) }
            try db.query("COMMIT")
            return nil
        } catch {
            return journalOnly(records, why: "\(error)")
        }
    }

    private func journalOnly(_ records: [HistoryRecord], why: String) -> String {
        do {
            for record in records { try journal.append(record) }
            return "history: \(why); kept in the journal \(settings.journalFile) and replayed when the database is reachable"
        } catch {
            return "history: \(why); and the journal could not be written either (\(error)): this operation is not recorded"
        }
    }

    /// Moves every journaled record into the table, exactly once: the insert ignores record IDs
    /// already there, so a crash between the commit and emptying the journal duplicates nothing.
    @discardableResult
    public func replay(_ db: PostgresConnection) throws -> Int {
        guard FileSystem.exists(settings.journalFile) else { return 0 }
        let file = try journal.openLocked()
        let pending = try journal.readAll(file)
        guard !pending.isEmpty else { return 0 }
        try db.query("BEGIN")
        do {
            for record in pending { try Self.insert(record, into: db) }
            try db.query("COMMIT")
        } catch {
            _ = try? db.query("ROLLBACK")
            throw error
        }
        try journal.empty(file)
        return pending.count
    }

    /// Replays the journal if the database is reachable; for commands that have nothing to record.
    public func replayIfReachable() -> String? {
        do {
            try replay(try connect())
            return nil
        } catch {
            return journal.pendingCount > 0 ? "history: \(error); \(journal.pendingCount) records wait in the journal \(settings.journalFile)" : nil
        }
    }

    static func insert(_ r: HistoryRecord, into db: PostgresConnection) throws {
        func text(_ v: Int?) -> String? { v.map(String.init) }
        try db.query(
            """
            INSERT INTO control_plane.backups (record_id, project_id, type, operation, status, file_id, store_name, object_name,
                size, stored_size, sha256, cluster_name, system_identifier, timeline, start_lsn, stop_lsn, error, duration_ms,
                created_at, expires_at, schema_name, row_count, range_start, range_end, rows_deleted, actor, origin, error_code)
            VALUES ($1::uuid, $2, $3::control_plane.backup_type, $4, $5::control_plane.backup_status, $6, $7, $8,
                $9::bigint, $10::bigint, $11, $12, $13, $14::integer, $15::pg_lsn, $16::pg_lsn, $17, $18::bigint,
                to_timestamp($19::bigint / 1000000.0), to_timestamp($20::bigint / 1000000.0),
                $21, $22::bigint, to_timestamp($23::bigint / 1000000.0), to_timestamp($24::bigint / 1000000.0), $25::bigint,
                $26, $27, $28)
            ON CONFLICT (record_id) DO NOTHING
            """,
            [
                r.recordID, r.projectID, r.type.rawValue, r.operation, r.status.rawValue, r.fileID, r.storeName, r.objectName,
                text(r.size), text(r.storedSize), r.sha256, r.clusterName, r.systemIdentifier, text(r.timeline), r.startLSN, r.stopLSN,
                r.error, text(r.durationMs), String(r.createdAt), r.expiresAt.map(String.init),
                r.schemaName, text(r.rowCount), r.rangeStart.map(String.init), r.rangeEnd.map(String.init), text(r.rowsDeleted),
                r.actor, r.origin, r.errorCode
            ])
    }

    /// `HistoryExpiry.reconcile` for each store; a warning when the database cannot be reached
    /// (the next expire run does it all again).
    public func reconcileExpiry(
        _ stores: [(store: String, present: Set<String>, due: [String: Int64])], before: Int64, cluster: String,
        logsManaged: Bool = false
    ) -> String? {
        do {
            let db = try connect()
            try replay(db)
            for store in stores {
                try HistoryExpiry.reconcile(
                    present: store.present, due: store.due, before: before, store: store.store, cluster: cluster, settings: settings, db: db,
                    logsManaged: logsManaged)
            }
            return nil
        } catch {
            return "history: expired_at and expires_at not updated (\(error)); the next walvault expire updates them"
        }
    }
}
