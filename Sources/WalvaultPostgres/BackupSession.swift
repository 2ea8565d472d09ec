/// What PostgreSQL says about itself before a backup, read once.
public struct ServerFacts: Equatable, Sendable {
    public var versionNumber: Int
    public var systemIdentifier: String
    public var walSegmentSize: Int
    public var dataDirectory: String
    public var inRecovery: Bool
    public var archiveMode: String
    public var archiveCommand: String
    public var archiveLibrary: String
    /// pg_stat_archiver.last_archived_wal.
    public var lastArchivedWAL: String?
    /// pg_stat_archiver's last failure, when it is more recent than the last success.
    public var failingSince: (wal: String, time: String)?
    /// Whether `lastArchivedWAL` was archived after the configuration was last loaded, so by
    /// the archive_command running now (nil: nothing archived).
    public var archivedSinceConfigLoad: Bool?

    public init(
        versionNumber: Int, systemIdentifier: String, walSegmentSize: Int, dataDirectory: String, inRecovery: Bool = false,
        archiveMode: String = "on", archiveCommand: String = "", archiveLibrary: String = "", lastArchivedWAL: String? = nil,
        failingSince: (wal: String, time: String)? = nil, archivedSinceConfigLoad: Bool? = nil
    ) {
        self.versionNumber = versionNumber
        self.systemIdentifier = systemIdentifier
        self.walSegmentSize = walSegmentSize
        self.dataDirectory = dataDirectory
        self.inRecovery = inRecovery
        self.archiveMode = archiveMode
        self.archiveCommand = archiveCommand
        self.archiveLibrary = archiveLibrary
        self.lastArchivedWAL = lastArchivedWAL
        self.failingSince = failingSince
        self.archivedSinceConfigLoad = archivedSinceConfigLoad
    }

    public static func == (a: ServerFacts, b: ServerFacts) -> Bool {
        a.versionNumber == b.versionNumber && a.systemIdentifier == b.systemIdentifier && a.walSegmentSize == b.walSegmentSize
            && a.dataDirectory == b.dataDirectory && a.inRecovery == b.inRecovery && a.archiveMode == b.archiveMode
            && a.archiveCommand == b.archiveCommand && a.archiveLibrary == b.archiveLibrary && a.lastArchivedWAL == b.lastArchivedWAL
            && a.failingSince?.wal == b.failingSince?.wal && a.failingSince?.time == b.failingSince?.time
            && a.archivedSinceConfigLoad == b.archivedSinceConfigLoad
    }
}

/// What `pg_backup_stop` returns.
public struct BackupStop: Equatable, Sendable {
    public var lsn: String
    public var labelFile: String
    public var tablespaceMap: String?

    public init(lsn: String, labelFile: String, tablespaceMap: String?) {
        self.lsn = lsn
        self.labelFile = labelFile
        self.tablespaceMap = tablespaceMap
    }
}

/// The database side of a base backup: one session that holds PostgreSQL's non-exclusive backup
/// open from start to stop. A protocol, so that `Backup` is tested without a server.
public protocol BackupSession {
    func facts() throws -> ServerFacts
    /// The server's clock, µs since the epoch: backup times are the server's, as recovery targets are.
    func clockMicros() throws -> Int64
    /// `pg_backup_start(label, fast)`; returns the start LSN as text.
    func start(label: String) throws -> String
    func stop() throws -> BackupStop
    /// pg_stat_archiver's last failure, to explain WAL that does not arrive.
    func lastArchiveFailure() -> (wal: String, time: String)?
}

/// `BackupSession` over libpq.
public final class PostgresBackupSession: BackupSession {
    let db: PostgresConnection

    public init(conninfo: String) throws {
        db = try PostgresConnection(conninfo: conninfo)
    }

    public func facts() throws -> ServerFacts {
        let row = try db.query(
            """
            SELECT current_setting('server_version_num'), (SELECT system_identifier::text FROM pg_control_system()),
                   pg_size_bytes(current_setting('wal_segment_size'))::text, current_setting('data_directory'),
                   current_setting('archive_mode'), current_setting('archive_command'), pg_is_in_recovery()::text,
                   current_setting('archive_library', true), a.last_archived_wal, a.last_failed_wal, a.last_failed_time::text,
                   (a.last_failed_time > coalesce(a.last_archived_time, '-infinity'))::text,
                   (a.last_archived_time > pg_conf_load_time())::text
            FROM pg_stat_archiver a
            """)[0]
        return ServerFacts(
            versionNumber: Int(row[0] ?? "") ?? 0, systemIdentifier: row[1] ?? "", walSegmentSize: Int(row[2] ?? "") ?? 0,
            dataDirectory: row[3] ?? "", inRecovery: row[6] == "true", archiveMode: row[4] ?? "",
            archiveCommand: row[5] ?? "", archiveLibrary: row[7] ?? "", lastArchivedWAL: row[8],
            failingSince: row[11] == "true" ? (row[9] ?? "?", row[10] ?? "?") : nil,
            archivedSinceConfigLoad: row[12].map { $0 == "true" })
    }

    public func clockMicros() throws -> Int64 {
        let text = try db.value("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text")
        guard let micros = Int64(text) else {
            throw PostgresError(problem: "the server's clock returned \(text)", fix: "check the server")
        }
        return micros
    }

    public func start(label: String) throws -> String {
        try db.value("SELECT pg_backup_start($1, true)::text", [label])
    }

    public func stop() throws -> BackupStop {
        let rows = try db.query("SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(false)")
        guard let row = rows.first, let lsn = row[0], let label = row[1] else {
            throw PostgresError(problem: "pg_backup_stop returned nothing usable", fix: "see the server log")
        }
        return BackupStop(lsn: lsn, labelFile: label, tablespaceMap: (row[2]?.isEmpty ?? true) ? nil : row[2])
    }

    public func lastArchiveFailure() -> (wal: String, time: String)? {
        guard let row = (try? db.query("SELECT last_failed_wal, last_failed_time::text FROM pg_stat_archiver"))?.first, let wal = row[0] else {
            return nil
        }
        return (wal, row[1] ?? "?")
    }
}
