import Foundation
import Testing

/// control_plane.backups in a real control-plane PostgreSQL, fed by a real archiving cluster.
@Suite struct HistoryTests {
    @Test func migrateIsIdempotentAndSafeToRunConcurrently() throws {
        let ws = try Workspace()
        let control = PostgresCluster(workspace: ws, name: "control")
        try control.initdb(settings: [:])
        try control.start()
        let config = try ws.config(
            stores: [try ws.mkdir("store")],
            extra: """
                [history]
                conninfo = "host=\(ws.path) port=\(control.port) user=postgres dbname=postgres"
                project_id = "analyticbot"
                journal = "\(ws.file("journal/history.jsonl"))"
                """)
        // Two at once: the advisory lock serialises them; each migration is applied once.
        let a = try spawn(ws.walvault, ["--config", config, "migrate"], stdout: ws.file("a.out"), stderr: ws.file("a.err"))
        let b = try spawn(ws.walvault, ["--config", config, "migrate"], stdout: ws.file("b.out"), stderr: ws.file("b.err"))
        #expect(waitFor(a) == 0)
        #expect(waitFor(b) == 0)
        let outputs = try [ws.file("a.out"), ws.file("b.out")].map { try String(contentsOfFile: $0, encoding: .utf8) }
        #expect(outputs.filter { $0.contains("applied 0001_control_plane.sql") }.count == 1)
        #expect(
            outputs.filter { $0.contains("applied 0001_control_plane.sql, 0002_expiry.sql, 0003_exports.sql, 0004_actor.sql, 0005_dashboard.sql") }
                .count == 1)
        #expect(try control.sql("SELECT count(*) FROM control_plane.schema_migrations") == "5")
        let again = try ws.walvault(["--config", config, "migrate"])
        #expect(again.status == 0)
        #expect(again.stderr.isEmpty, "no server NOTICE leaks to stderr: \(again.stderr)")
        for err in [ws.file("a.err"), ws.file("b.err")] { #expect(try String(contentsOfFile: err, encoding: .utf8).isEmpty) }
        #expect(again.stdout.contains("schema up to date"))
        let json = try ws.walvault(["--config", config, "migrate", "--json"])
        let summary = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(summary?["applied"] as? [String] == [] && (summary?["already_applied"] as? [String])?.count == 5, "\(json.stdout)")
        #expect(try control.sql("SELECT count(*) FROM control_plane.schema_migrations") == "5")
        #expect(try control.sql("SELECT count(*) FROM pg_indexes WHERE tablename = 'backups' AND indexname = 'backups_project_created'") == "1")
        try control.stop()
    }

    @Test func everyPushAndBackupIsRecordedOnceEvenAcrossAnOutage() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let journal = ws.file("journal/history.jsonl")
        let control = PostgresCluster(workspace: ws, name: "control")
        let cluster = PostgresCluster(workspace: ws)
        let config = try ws.config(
            stores: [store],
            extra: """
                pgdata = "\(cluster.pgdata)"
                conninfo = "host=\(ws.path) port=\(cluster.port) user=postgres dbname=postgres"
                [history]
                conninfo = "host=\(ws.path) port=\(control.port) user=postgres dbname=postgres password=hunter2"
                project_id = "analyticbot"
                journal = "\(journal)"
                """)
        try control.initdb(settings: [:])
        try cluster.initdb(settings: ["archive_mode": "on", "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"])
        try ws.giveToPostgres()
        try control.start()
        #expect(try ws.walvault(["--config", config, "migrate"], asPostgres: true).status == 0)
        try cluster.start()

        func switchAndWait() throws -> String {
            let file = try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
            let stats = try cluster.waitForArchive(of: file)
            #expect(stats.failed == 0)
            return file
        }
        try cluster.sql("CREATE TABLE t AS SELECT g FROM generate_series(1, 10000) g")
        let first = try switchAndWait()
        let backup = try ws.walvault(["--config", config, "backup"], asPostgres: true)
        #expect(backup.status == 0, "\(backup.stderr)")

        // Rows match what is in the store: sizes and checksums.
        let row = try control.sql(
            "SELECT size, stored_size, sha256, file_id, status, expires_at - created_at FROM control_plane.backups WHERE object_name = '\(first)'")
        let fields = row.split(separator: "|").map(String.init)
        #expect(fields.count == 6)
        #expect(fields[0] == "16777216")
        let objectPath = fields[3]
        #expect(objectPath.hasPrefix(store + "/main/wal/") && objectPath.hasSuffix(".zst"))
        #expect(objectPath.contains(fields[2]), "the object's name carries the recorded sha256")
        let storedSize = try FileManager.default.attributesOfItem(atPath: objectPath)[.size] as? Int
        #expect(fields[1] == "\(storedSize ?? -1)")
        #expect(fields[4] == "succeeded")
        #expect(fields[5] == "30 days")
        #expect(
            try control.sql(
                "SELECT count(*) FROM control_plane.backups WHERE type = 'database' AND operation = 'backup' AND status = 'succeeded' AND start_lsn IS NOT NULL AND stop_lsn > start_lsn"
            ) == "1")
        #expect(!(try control.sql("SELECT string_agg(coalesce(error, ''), '') FROM control_plane.backups")).contains("hunter2"))

        // Outage: the control plane is down, archiving goes on, rows wait in the journal.
        try control.stop()
        var during: [String] = []
        for _ in 0..<3 {
            try cluster.sql("INSERT INTO t SELECT g FROM generate_series(1, 1000) g")
            during.append(try switchAndWait())
        }
        let log = try String(contentsOfFile: cluster.pgdata + ".log", encoding: .utf8)
        #expect(log.contains("walvault archive-push: warning: history: cannot connect to the control-plane database"))
        #expect(!log.contains("hunter2"))
        let journaled = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").count
        #expect(journaled >= 3)

        // Back up: the next walvault run that reaches it replays the journal, exactly once.
        try control.start()
        let journalCopy = try Data(contentsOf: URL(fileURLWithPath: journal))
        let history = try ws.walvault(["--config", config, "history", "--type", "wal"], asPostgres: true)
        #expect(history.status == 0, "\(history.stderr)")
        for file in during { #expect(history.stdout.contains(file)) }
        let total = try control.sql("SELECT count(*) FROM control_plane.backups")
        #expect(try control.sql("SELECT count(DISTINCT record_id) FROM control_plane.backups") == total)
        for file in during {
            #expect(try control.sql("SELECT count(*) FROM control_plane.backups WHERE object_name = '\(file)'") == "1")
        }
        #expect(try String(contentsOfFile: journal, encoding: .utf8).isEmpty)

        // A crash after the insert committed but before the journal was emptied: same rows again.
        try journalCopy.write(to: URL(fileURLWithPath: journal))
        #expect(try ws.walvault(["--config", config, "migrate"], asPostgres: true).status == 0)
        #expect(try control.sql("SELECT count(*) FROM control_plane.backups") == total)
        #expect(try String(contentsOfFile: journal, encoding: .utf8).isEmpty)

        let json = try ws.walvault(["--config", config, "history", "--json", "--since", "2000-01-01 00:00:00+00"], asPostgres: true)
        #expect(json.status == 0)
        #expect(json.stdout.contains("\"operation\" : \"archive-push\""))
        try cluster.stop()
        try control.stop()
    }

    /// A full shipping queue never fails archiving: PostgreSQL sees success, the server log gets
    /// one warning, history a failed row naming the store, and ship catches up by listing.
    @Test func aFullShippingQueueIsSaidRecordedAndCaughtUp() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let offsite = try ws.mkdir("offsite")
        let spool = try ws.mkdir("spool")
        let control = PostgresCluster(workspace: ws, name: "control")
        let cluster = PostgresCluster(workspace: ws)
        let config = try ws.config(
            stores: [],
            extra: """
                spool = "\(spool)"
                [history]
                conninfo = "host=\(ws.path) port=\(control.port) user=postgres dbname=postgres"
                project_id = "analyticbot"
                journal = "\(ws.file("journal/history.jsonl"))"
                [shipping]
                max_queue_mb = 16
                """,
            storeSections: """
                [[stores]]
                name = "local"
                type = "local"
                path = "\(store)"
                [[stores]]
                name = "offsite"
                type = "local"
                path = "\(offsite)"
                mode = "async"
                """)
        try control.initdb(settings: [:])
        try cluster.initdb(settings: ["archive_mode": "on", "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"])
        try ws.giveToPostgres()
        try control.start()
        #expect(try ws.walvault(["--config", config, "migrate"], asPostgres: true).status == 0)
        try cluster.start()
        // A shipper that never ships: hold its lock, so the queue only grows.
        let holder = try spawn("/usr/bin/flock", ["-o", spool + "/ship.lock", "sleep", "600"], asPostgres: true)
        var holding = true
        func release() {
            guard holding else { return }
            holding = false
            _ = try? run("/usr/bin/pkill", ["-f", "flock -o \(spool)/ship.lock"])
            _ = waitFor(holder)
        }
        defer { release() }
        try poll("flock to hold \(spool)/ship.lock") { isLockedByAnother(spool + "/ship.lock") }
        try cluster.sql("CREATE TABLE noise AS SELECT md5(random()::text) || md5(random()::text) AS a FROM generate_series(1, 600000) g")
        let last = try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
        let stats = try cluster.waitForArchive(of: last)
        #expect(stats.failed == 0, "a full queue must never fail archive_command")
        let log = try String(contentsOfFile: cluster.pgdata + ".log", encoding: .utf8)
        #expect(log.contains("walvault archive-push: warning: the shipping queue for store \"offsite\" is full"))
        let warnings = log.components(separatedBy: "shipping queue for store").count - 1
        #expect(warnings == 1, "said once a minute, not at every push (\(warnings) times)")
        #expect(
            try control.sql("SELECT count(*) > 0 FROM control_plane.backups WHERE status = 'failed' AND error LIKE '%store \"offsite\"%full%'") == "t"
        )
        #expect(FileManager.default.fileExists(atPath: spool + "/queue/offsite/.overflow"))

        release()
        let ship = try ws.walvault(["--config", config, "ship", "--verbose"], asPostgres: true)
        #expect(ship.status == 0, "\(ship.stderr)")
        #expect(ship.stderr.contains("the queue had overflowed"), "\(ship.stderr)")
        let localWAL = filesRecursively(store + "/main/wal").filter { !$0.hasPrefix(".") && !$0.contains("/.") }
        let shippedWAL = filesRecursively(offsite + "/main/wal").filter { !$0.hasPrefix(".") && !$0.contains("/.") }
        #expect(!localWAL.isEmpty)
        #expect(Set(shippedWAL) == Set(localWAL), "missing after catch-up: \(Set(localWAL).subtracting(shippedWAL).sorted().prefix(3))")
    }

    @Test func historyWithoutItsSectionIsOneClearLine() throws {
        let ws = try Workspace()
        let config = try ws.config(stores: [try ws.mkdir("store")])
        let result = try ws.walvault(["--config", config, "history"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("has no [history] section"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }
}
