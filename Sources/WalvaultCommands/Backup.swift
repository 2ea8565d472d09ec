#if canImport(Glibc)
import Glibc
#endif
import WalvaultCatalog
import WalvaultRepository
import WalvaultConfig
import WalvaultPostgres
import WalvaultStores
import WalvaultSystem

public struct BackupReport: Equatable {
    public let manifest: BackupManifest
    /// Wall-clock seconds from pg_backup_start to the manifest being written.
    public let seconds: Double
    public var throughputMBps: Double { seconds > 0 ? Double(manifest.totalSize) / 1_000_000 / seconds : 0 }
}

/// A full physical base backup with PostgreSQL's non-exclusive low-level API: walvault reads the
/// data directory itself (so every file gets its own checksum and parts stay small), while one
/// libpq session holds the backup open. See docs/architecture.md for why not BASE_BACKUP.
public struct Backup {
    public static let walvaultVersion = "0.1.0"

    public let context: WalvaultContext
    /// How long to wait for the WAL that makes the backup consistent to reach the stores.
    public var walTimeoutSeconds: Double = 300
    public var partSize = BackupPacker.defaultPartSize

    public init(context: WalvaultContext) { self.context = context }

    /// - Parameters:
    ///   - progress: what is happening, for `--verbose`.
    ///   - warn: problems that do not stop the backup, printed as they are found.
    public func run(progress: (String) -> Void = { _ in }, warn: (String) -> Void = { _ in }) throws -> BackupReport {
        let config = context.config
        guard walTimeoutSeconds.isFinite, walTimeoutSeconds > 0 else {
            throw CommandError(problem: "the WAL timeout \(walTimeoutSeconds) is not a positive number of seconds", fix: "give a timeout such as 300")
        }
        guard let conninfo = config.cluster.conninfo else {
            throw CommandError(problem: "config \(config.path): [cluster] conninfo is not set", fix: "backup needs a connection to the server, e.g. conninfo = \"host=/var/run/postgresql dbname=postgres\"")
        }
        guard let pgdata = config.cluster.pgdata else {
            throw CommandError(problem: "config \(config.path): [cluster] pgdata is not set", fix: "backup reads the data directory; set pgdata to it")
        }
        let db = try PostgresConnection(conninfo: conninfo)
        let facts = try ServerFacts.read(db)
        try facts.checkReadyForBackup(pgdata: pgdata, configPath: config.path)
        let layout = ArchiveLayout(cluster: config.cluster.name)
        try checkArchiver(facts, layout: layout).forEach(warn)
        for store in context.stores {
            if let bound = try ArchiveBinding.load(store: store, layout: layout), String(bound.identity.systemIdentifier) != facts.systemIdentifier {
                throw CommandError(problem: "store \"\(store.name)\" holds cluster \"\(layout.cluster)\" with system identifier \(bound.identity.systemIdentifier), but the server at conninfo is \(facts.systemIdentifier)",
                                   fix: "point [cluster] at the right server, or use a new [cluster] name for this one")
            }
        }

        let label = try uniqueLabel(layout: layout, now: try db.value("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"')"))
        let clock = Stopwatch()
        let startLSN = LSN(try db.value("SELECT pg_backup_start($1, true)::text", ["walvault \(label)"]))!
        let startTime = Int64(try db.value(ServerFacts.clockMicros))!
        progress("backup \(label) started at \(startLSN)")

        let packer = BackupPacker(stores: context.stores, directory: layout.backupDirectory(label), compression: config.compression, partSize: partSize)
        var manifest: BackupManifest
        do {
            manifest = try copyAndWait(label: label, startLSN: startLSN, startTime: startTime, facts: facts, pgdata: pgdata, layout: layout,
                                       packer: packer, db: db, progress: progress)
        } catch {
            packer.abort()
            throw BackupFailure(underlying: error, cleanup: removeParts(of: label, layout: layout))
        }

        // The manifest goes last: only now is the backup usable, and visible as such.
        manifest.entries.sort { $0.path < $1.path }
        let bytes = try manifest.encoded()
        for store in context.stores {
            guard try store.createSmall(key: layout.manifestKey(label), contents: bytes) else {
                throw CommandError(problem: "store \"\(store.name)\" already has a manifest for backup \(label)", fix: "another backup with this label finished first; retry")
            }
            _ = try store.createSmall(key: layout.manifestCopyKey(label), contents: bytes)
        }
        return BackupReport(manifest: manifest, seconds: clock.seconds)
    }

    /// Copies the files, stops the backup and waits for its WAL: everything before the manifest.
    private func copyAndWait(label: String, startLSN: LSN, startTime: Int64, facts: ServerFacts, pgdata: String, layout: ArchiveLayout,
                             packer: BackupPacker, db: PostgresConnection, progress: (String) -> Void) throws -> BackupManifest {
        let config = context.config
        var entries: [BackupManifest.Entry] = []
        var tablespaces: [BackupManifest.Tablespace] = []
        let walker = DataDirectoryWalker(root: pgdata, packer: packer)
        try walker.walk(entries: &entries, tablespaces: &tablespaces)
        // pg_control last of all files (see BackupExclusions.controlFile).
        let control = Paths.join(pgdata, BackupExclusions.controlFile)
        guard let controlStatus = try FileSystem.status(control),
              let controlEntry = try packer.add(path: control, relative: BackupExclusions.controlFile, mode: controlStatus.mode) else {
            throw CommandError(problem: "\(control) is missing", fix: "check that [cluster] pgdata is the server's data directory")
        }
        entries.append(controlEntry)
        try packer.finish()

        let stop = try db.query("SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(false)")
        guard let row = stop.first, let stopText = row[0], let stopLSN = LSN(stopText), let labelFile = row[1] else {
            throw CommandError(problem: "pg_backup_stop returned nothing usable", fix: "see the server log")
        }
        let stopTime = Int64(try db.value(ServerFacts.clockMicros))!
        let timeline = Self.timeline(fromLabel: labelFile) ?? 1

        let manifest = BackupManifest(
            label: label, cluster: layout.cluster, systemIdentifier: facts.systemIdentifier, postgresVersion: facts.versionNumber,
            walSegmentSize: facts.walSegmentSize, timeline: timeline, startLSN: startLSN, stopLSN: stopLSN,
            startTime: startTime, stopTime: stopTime, walvaultVersion: Self.walvaultVersion,
            compression: config.compression.algorithm.rawValue, backupLabel: labelFile,
            tablespaceMap: (row[2]?.isEmpty ?? true) ? nil : row[2], tablespaces: tablespaces, parts: packer.parts, entries: entries)
        progress("copied \(manifest.totalSize) bytes in \(manifest.parts.count) parts; waiting for WAL \(manifest.startSegment()) to \(manifest.stopSegment()) to be archived")
        try waitForWAL(manifest: manifest, layout: layout, db: db)
        return manifest
    }

    /// What a failed backup wrote is useless: take it back from every store that can delete,
    /// and say what is left where one cannot. Returns the sentence for the error.
    private func removeParts(of label: String, layout: ArchiveLayout) -> String {
        let directory = layout.backupDirectory(label)
        var left: [String] = []
        for store in context.stores {
            do {
                let objects = try store.list(directory: directory, namePrefix: "")
                guard !objects.isEmpty else { continue }
                guard store.capabilities.contains(.deletion) else {
                    left.append("\(directory)/ in store \"\(store.name)\" (it cannot delete)")
                    continue
                }
                for object in objects { try store.delete(key: object.key) }
            } catch {
                left.append("\(directory)/ in store \"\(store.name)\" (\(error))")
            }
        }
        return left.isEmpty ? "the parts it wrote were removed" : "remove what it left: " + left.joined(separator: ", ")
    }

    static func timeline(fromLabel label: String) -> UInt32? {
        for line in label.split(separator: "\n") where line.hasPrefix("START TIMELINE: ") {
            return UInt32(line.dropFirst("START TIMELINE: ".count))
        }
        return nil
    }

    /// Refuses before copying when the server's WAL will never reach these stores (see ArchiverCheck).
    private func checkArchiver(_ facts: ServerFacts, layout: ArchiveLayout) throws -> [String] {
        var check = facts.archiver
        if let last = check.lastArchivedWAL, let file = WALFileName(last) {
            check.lastArchivedIsInStores = try context.stores.contains {
                try !$0.list(directory: layout.directory(for: file), namePrefix: StoredObjectName.prefix(for: file.description)).isEmpty
            }
        }
        return try check.verdict(configPath: context.config.path) { a, b in
            (FileSystem.realPath(a) ?? a) == (FileSystem.realPath(b) ?? b)
        }
    }

    private func uniqueLabel(layout: ArchiveLayout, now: String) throws -> String {
        var label = now
        var attempt = 1
        while try context.stores.contains(where: { try !$0.list(directory: layout.backupDirectory(label), namePrefix: "").isEmpty }) {
            attempt += 1
            label = "\(now)-\(attempt)"
        }
        return label
    }

    /// The backup is unusable until WAL from its start to its stop is in the stores: wait for it,
    /// bounded, and say what is missing and why when it does not come.
    private func waitForWAL(manifest: BackupManifest, layout: ArchiveLayout, db: PostgresConnection) throws {
        let size = manifest.walSegmentSize
        var needed: [WALFileName] = []
        let first = manifest.startLSN.segmentNumber(segmentSize: size)
        let last = manifest.stopLSN.previousByteSegmentNumber(segmentSize: size)
        for number in first...max(first, last) {
            needed.append(.segment(WALSegmentName(timeline: manifest.timeline, segmentNumber: number, segmentSize: size)))
        }
        needed.append(.backupHistory(manifest.startSegment(), offset: UInt32(manifest.startLSN.value % UInt64(size))))
        let waiting = Stopwatch()
        for file in needed {
            while try context.stores.contains(where: { try $0.list(directory: layout.directory(for: file), namePrefix: StoredObjectName.prefix(for: file.description)).isEmpty }) {
                guard waiting.seconds < walTimeoutSeconds else {
                    let failure = (try? db.query("SELECT last_failed_wal, last_failed_time::text FROM pg_stat_archiver"))?.first
                    let why = (failure?[0] ?? nil).map { "; the archiver last failed on \($0) at \(failure?[1] ?? "?")" } ?? ""
                    throw CommandError(problem: "backup \(manifest.label) is unusable: \(file) was not archived within \(Int(walTimeoutSeconds)) s\(why)",
                                       fix: "check archive_command and the server log; the backup was not marked complete")
                }
                usleep(200_000)
            }
        }
    }
}

/// What backup needs to know about the server, read once.
struct ServerFacts {
    static let clockMicros = "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text"

    let versionNumber: Int
    let systemIdentifier: String
    let walSegmentSize: Int
    let dataDirectory: String
    let archiver: ArchiverCheck
    let inRecovery: Bool

    static func read(_ db: PostgresConnection) throws -> ServerFacts {
        let row = try db.query("""
            SELECT current_setting('server_version_num'), (SELECT system_identifier::text FROM pg_control_system()),
                   pg_size_bytes(current_setting('wal_segment_size'))::text, current_setting('data_directory'),
                   current_setting('archive_mode'), current_setting('archive_command'), pg_is_in_recovery()::text,
                   current_setting('archive_library', true), a.last_archived_wal, a.last_failed_wal, a.last_failed_time::text,
                   (a.last_failed_time > coalesce(a.last_archived_time, '-infinity'))::text
            FROM pg_stat_archiver a
            """)[0]
        let failing = row[11] == "true" ? ArchiverCheck.Failure(wal: row[9] ?? "?", time: row[10] ?? "?") : nil
        let archiver = ArchiverCheck(archiveMode: row[4] ?? "", archiveCommand: row[5] ?? "", archiveLibrary: row[7] ?? "",
                                     lastArchivedWAL: row[8], failing: failing)
        return ServerFacts(versionNumber: Int(row[0] ?? "") ?? 0, systemIdentifier: row[1] ?? "", walSegmentSize: Int(row[2] ?? "") ?? 0,
                           dataDirectory: row[3] ?? "", archiver: archiver, inRecovery: row[6] == "true")
    }

    func checkReadyForBackup(pgdata: String, configPath: String) throws {
        guard versionNumber >= 150_000 else {
            throw CommandError(problem: "the server is PostgreSQL \(versionNumber / 10000); walvault backup needs 15 or later", fix: "upgrade the server")
        }
        guard !inRecovery else {
            throw CommandError(problem: "the server is a standby (in recovery)", fix: "run walvault backup against the primary")
        }
        let configured = FileSystem.realPath(pgdata) ?? pgdata
        let actual = FileSystem.realPath(dataDirectory) ?? dataDirectory
        guard configured == actual else {
            throw CommandError(problem: "[cluster] pgdata is \(pgdata), but the server at conninfo runs from \(dataDirectory)",
                               fix: "make pgdata and conninfo name the same cluster")
        }
    }
}

/// A backup that failed after it began writing: why, and what became of what it wrote.
public struct BackupFailure: Error, CustomStringConvertible {
    public let underlying: Error
    public let cleanup: String
    public var description: String { "\(underlying); \(cleanup)" }
}
