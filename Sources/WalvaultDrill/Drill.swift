import WalvaultBackup
import WalvaultCatalog
import WalvaultKit
import WalvaultPostgres
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

public struct DrillOptions: Sendable {
    public var backupLabel: String?
    public var target: RecoveryTarget
    public var keep: Bool
    /// Where the drill's directory is made (it holds a whole data directory).
    public var parentDirectory: String
    /// PostgreSQL's programs; nil: /usr/lib/postgresql/<the backup's major version>/bin.
    public var postgresBin: String?
    /// How restore_command calls walvault: absolute binary and config paths.
    public var restoreCommand: String
    /// How long recovery may take before the drill gives up.
    public var timeoutSeconds: Int

    public init(
        backupLabel: String? = nil, target: RecoveryTarget = .latest, keep: Bool = false, parentDirectory: String = "/var/tmp",
        postgresBin: String? = nil, restoreCommand: String, timeoutSeconds: Int = 3600
    ) {
        self.backupLabel = backupLabel
        self.target = target
        self.keep = keep
        self.parentDirectory = parentDirectory
        self.postgresBin = postgresBin
        self.restoreCommand = restoreCommand
        self.timeoutSeconds = timeoutSeconds
    }
}

/// What a drill did and found.
public struct DrillReport: Codable, Sendable {
    public struct Database: Codable, Sendable {
        public let name: String
        public var tables: [String: Int] = [:]
        public var rows: Int { tables.values.reduce(0, +) }
        public var indexesChecked = 0
    }

    public var backup = ""
    public var target = ""
    public var directory = ""
    public var port = 0
    public var restoreSeconds = 0.0
    public var recoverySeconds = 0.0
    public var checkSeconds = 0.0
    public var totalSeconds = 0.0
    public var databases: [Database] = []
    /// Whether amcheck was there to check the B-tree indexes (postgresql-contrib).
    public var amcheck = false
    public var problems: [String] = []
    public var kept = false

    public var ok: Bool { problems.isEmpty }

    public func json() throws -> String {
        try ReportJSON.encode(self)
    }

    public var lines: [String] {
        var out = [
            "backup \(backup) restored into \(directory) in \(String(format2: restoreSeconds)) s; recovery to \(target) and promotion in \(String(format2: recoverySeconds)) s (port \(port))"
        ]
        for database in databases {
            out.append(
                "database \(database.name): \(database.tables.count) tables, \(database.rows) rows\(amcheck ? ", \(database.indexesChecked) B-tree indexes checked" : "")"
            )
        }
        if !amcheck { out.append("amcheck is not installed (Debian: postgresql-contrib): indexes were not checked") }
        out += problems.map { "FAIL \($0)" }
        out.append(
            "drill \(ok ? "passed" : "FAILED") in \(String(format2: totalSeconds)) s (checks \(String(format2: checkSeconds)) s)\(kept ? "; kept \(directory)" : "")"
        )
        return out
    }
}

/// A drill that did not pass, carrying what it found for the report.
public struct DrillFailure: Problem {
    public let report: DrillReport
    public var problem: String {
        "restore drill of backup \(report.backup) failed: \(report.problems.prefix(3).joined(separator: "; "))\(report.problems.count > 3 ? " (and \(report.problems.count - 3) more)" : "")"
    }
    /// Each problem line already says what to look at; the description stays the one line it was.
    public var fix: String { "" }
    public var errorCode: String { "drill.failed" }
}

/// The monthly restore drill in one command: restore into a private directory, start PostgreSQL
/// there on a free loopback port with archiving off, let it recover and promote, count every
/// table's rows and check every B-tree index, then stop it and remove the directory. It never
/// writes where the production cluster lives: its own directory, port, socket and tablespaces.
public struct Drill {
    public let context: WalvaultContext
    public let options: DrillOptions

    public init(context: WalvaultContext, options: DrillOptions) {
        self.context = context
        self.options = options
    }

    /// Its steps go to `events` as notes, like every operation's.
    public func run(events: OperationObserver = IgnoredEvents()) throws -> DrillReport {
        try events.run(
            "drill", type: .database, subject: options.backupLabel,
            summary: { (report: DrillReport) in
                ([], OperationFacts(objectName: report.backup, size: report.databases.reduce(0) { $0 + $1.rows }))
            }
        ) { try drill(events: events, progress: { events.receive(.progressed(note: $0)) }) }
    }

    private func drill(events: OperationObserver, progress: (String) -> Void) throws -> DrillReport {
        guard geteuid() != 0 else {
            throw CommandError(
                problem: "a drill starts PostgreSQL, which refuses to run as root",
                fix: "run it as the user that owns the cluster: sudo -u postgres walvault drill")
        }
        let clock = Stopwatch()
        var report = DrillReport()
        switch options.target {
        case .latest: report.target = "the end of the archive"
        case .time(let t): report.target = RecoveryTarget.formatUTC(t)
        }
        // Held for the whole drill: expire must not take WAL that recovery is about to fetch.
        let lock = try ClusterLock.acquire(.shared, config: context.config)
        defer { _ = lock }
        let stamp = String(RecoveryTarget.formatUTC(WallClock.nowMicros()).prefix(19).filter(\.isNumber))
        // Absolute: pg_ctl starts in "/", not here.
        let directory = Paths.join(
            FileSystem.realPath(options.parentDirectory) ?? options.parentDirectory, "walvault-drill-\(context.config.cluster.name)-\(stamp)")
        guard mkdir(directory, 0o700) == 0 else {
            let error = SystemError("create directory", path: directory)
            throw CommandError(
                cause: error, problem: "cannot create the drill's directory \(directory): \(error.reason)",
                fix: error.hint ?? "choose another place with --directory")
        }
        report.directory = directory
        let pgdata = Paths.join(directory, "pgdata")
        var server: DrillServer?
        defer {
            server?.stop()
            if !options.keep {
                try? FileSystem.removeContents(of: directory)
                rmdir(directory)
            }
        }

        // 1. Restore, its tablespaces inside the drill's directory.
        var restoreOptions = RestoreOptions(
            pgdata: pgdata, target: options.target, backupLabel: options.backupLabel, restoreCommand: options.restoreCommand)
        let restore = Restore(context: context, options: restoreOptions)
        let plan = try restore.plan()
        report.backup = plan.backup.label
        // Before restoring anything: a drill that cannot start a server should not copy the database first.
        let bin = try postgresBin(major: plan.backup.postgresVersion / 10000)
        for tablespace in plan.backup.tablespaces {
            restoreOptions.tablespaceLocations[tablespace.oid] = Paths.join(directory, "tablespace-\(tablespace.oid)")
        }
        progress("restoring backup \(plan.backup.label) into \(pgdata)")
        let restored = Stopwatch()
        _ = try Restore(context: context, options: restoreOptions).run(events: NestedEvents(events))
        report.restoreSeconds = restored.seconds

        // 2. Start it where nothing else is, and wait for the promotion.
        let port = try DrillServer.freeLoopbackPort()
        report.port = port
        try DrillServer.configure(pgdata: pgdata, directory: directory, port: port)
        progress("starting PostgreSQL on 127.0.0.1:\(port) with archiving off; recovering to \(report.target)")
        let recovering = Stopwatch()
        let user = context.config.cluster.conninfo.flatMap { try? ConnectionString($0).value("user") } ?? DrillServer.userName()
        server = try DrillServer.start(bin: bin, pgdata: pgdata, directory: directory, port: port, user: user)
        try server!.waitForPromotion(timeoutSeconds: options.timeoutSeconds)
        report.recoverySeconds = recovering.seconds
        progress("promoted after \(String(format2: report.recoverySeconds)) s; counting rows and checking indexes")

        // 3. Read everything.
        let checking = Stopwatch()
        try check(server!, into: &report)
        report.checkSeconds = checking.seconds
        report.kept = options.keep
        report.totalSeconds = clock.seconds
        guard report.ok else { throw DrillFailure(report: report) }
        return report
    }

    /// `SELECT count(*)` over every table and populated materialized view of every database that
    /// allows connections, and amcheck's `bt_index_check` on every valid B-tree index (catalogs
    /// included) where amcheck is installed. Every failure is a problem; the checks go on.
    package func check(_ server: DrillServer, into report: inout DrillReport) throws {
        let admin = try server.connect(database: "postgres")
        let names = try admin.query("SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname").compactMap { $0[0] }
        report.amcheck = try admin.query("SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'").count == 1
        for name in names {
            var database = DrillReport.Database(name: name)
            defer { report.databases.append(database) }
            let connection: PostgresConnection
            do { connection = try server.connect(database: name) } catch {
                report.problems.append("database \(name): \(error)")
                continue
            }
            let tables = try connection.query(
                """
                SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'm') AND (c.relkind = 'r' OR c.relispopulated) AND c.relpersistence <> 't'
                  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
                ORDER BY 1
                """
            ).compactMap { $0[0] }
            for table in tables {
                // The name comes from the server, quoted by format('%I'): a table name cannot inject SQL.
                do { database.tables[table] = Int(try connection.value("SELECT count(*) FROM \(table)")) ?? -1 } catch {
                    report.problems.append("database \(name), table \(table): \(error)")
                }
            }
            guard report.amcheck else { continue }
            do { try connection.query("CREATE EXTENSION IF NOT EXISTS amcheck") } catch {
                report.problems.append("database \(name): cannot create the amcheck extension: \(error)")
                continue
            }
            let indexes = try connection.query(
                """
                SELECT c.oid::text, format('%I.%I', n.nspname, c.relname) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = c.relam
                WHERE am.amname = 'btree' AND i.indisvalid AND i.indisready AND c.relpersistence <> 't' ORDER BY 2
                """)
            for row in indexes {
                do {
                    try connection.query("SELECT bt_index_check($1::oid::regclass)", [row[0]])
                    database.indexesChecked += 1
                } catch {
                    report.problems.append("database \(name), index \(row[1] ?? "?"): \(error)")
                }
            }
        }
    }

    /// The given directory, else Debian's for the backup's major version, else pg_ctl on PATH.
    package func postgresBin(major: Int) throws -> String {
        if let bin = options.postgresBin {
            guard FileSystem.exists(Paths.join(bin, "pg_ctl")) else {
                throw CommandError(
                    problem: "--postgres-bin \(bin) holds no pg_ctl",
                    fix: "give the directory of PostgreSQL's programs, such as /usr/lib/postgresql/15/bin")
            }
            return bin
        }
        let version = "\(major)"
        let debian = "/usr/lib/postgresql/\(version)/bin"
        if FileSystem.exists(Paths.join(debian, "pg_ctl")) { return debian }
        for directory in (Environment.value("PATH") ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        where FileSystem.exists(Paths.join(directory, "pg_ctl")) {
            return directory
        }
        throw CommandError(
            problem: "PostgreSQL \(version)'s programs are not installed here (no \(debian)/pg_ctl, no pg_ctl on PATH)",
            fix: "install postgresql-\(version), or give their directory with --postgres-bin")
    }
}
