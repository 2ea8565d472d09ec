import Foundation
import Testing
import WalvaultTesting

/// walvault drill against real PostgreSQL 15: a backup that restores passes with every table
/// counted and every B-tree index checked; one missing segment fails it with one clear line, a
/// failed history row and an alert; neither touches the production cluster.
@Suite(.serialized) struct DrillTests {
    @Test func aDrillPassesOnAHealthyStoreAndFailsClearlyWhenASegmentIsMissing() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let drills = try ws.mkdir("drills")
        let sinks = try AlertSinks(user: "alerts@example.com", password: "unused")
        let cluster = PostgresCluster(workspace: ws, name: "pgdata")
        let config = try ws.config(
            stores: [store],
            extra: """
                pgdata = "\(cluster.pgdata)"
                conninfo = "host=\(ws.path) port=\(cluster.port) user=postgres dbname=postgres"
                spool = "\(try ws.mkdir("spool"))"
                [history]
                conninfo = "host=\(ws.path) port=\(cluster.port) user=postgres dbname=postgres"
                project_id = "drills"
                journal = "\(ws.file("journal/history.jsonl"))"
                [alerts]
                webhook_url_env = "WALVAULT_TEST_WEBHOOK"
                """)
        try cluster.initdb(settings: [
            "wal_level": "replica", "archive_mode": "on",
            "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
        ])
        try ws.giveToPostgres()
        try cluster.start()
        var environment = ProcessInfo.processInfo.environment
        environment["WALVAULT_TEST_WEBHOOK"] = "http://127.0.0.1:\(sinks.webhookPort)/hooks/drill"
        func walvault(_ arguments: [String]) throws -> ProcessResult {
            try run(ws.walvault, ["--config", config] + arguments, environment: environment, asPostgres: true)
        }
        #expect(try walvault(["migrate"]).status == 0)
        try run(
            Fixture.postgresBin + "/pgbench", ["-i", "-s", "1", "-h", ws.path, "-p", "\(cluster.port)", "-U", "postgres", "postgres"],
            asPostgres: true)
        try cluster.sql("CREATE DATABASE tenant")
        let backup = try walvault(["backup"])
        #expect(backup.status == 0, "\(backup.stderr)")
        // After the backup: a second database's table, and more rows, reached only through WAL.
        try run(
            Fixture.postgresBin + "/psql",
            [
                "-X", "-q", "-h", ws.path, "-p", "\(cluster.port)", "-U", "postgres", "-d", "tenant", "-c",
                "CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 4321) g"
            ],
            asPostgres: true)
        for _ in 0..<3 {
            try cluster.sql("INSERT INTO pgbench_history SELECT 1, 1, 1, g, now() FROM generate_series(1, 20000) g")
            _ = try cluster.waitForArchive(of: try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())"))
        }
        let historyRows = try cluster.sql("SELECT count(*) FROM pgbench_history")
        let archived = try cluster.sql("SELECT archived_count FROM pg_stat_archiver")

        let drill = try walvault(["drill", "--directory", drills])
        #expect(drill.status == 0, "\(drill.stdout) \(drill.stderr)")
        #expect(drill.stdout.contains("drill passed"), "\(drill.stdout)")
        #expect(drill.stdout.contains("database tenant: 1 tables, 4321 rows"), "\(drill.stdout)")
        #expect(drill.stdout.contains("B-tree indexes checked"), "amcheck (postgresql-contrib) ran: \(drill.stdout)")
        #expect(!drill.stdout.contains("FAIL"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: drills).isEmpty, "the drill's directory is removed")
        // Production untouched: still running, same port, and the drill archived nothing.
        #expect(try cluster.sql("SELECT archived_count FROM pg_stat_archiver") == archived)
        #expect(!filesRecursively(store).contains { $0.contains(".history") }, "the drill's promotion archived no timeline history")

        let json = try walvault(["drill", "--directory", drills, "--json", "--keep"])
        #expect(json.status == 0, "\(json.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(report["amcheck"] as? Bool == true)
        let databases = try #require(report["databases"] as? [[String: Any]])
        let postgres = try #require(databases.first { $0["name"] as? String == "postgres" }?["tables"] as? [String: Int])
        #expect(postgres["public.pgbench_accounts"] == 100_000)
        #expect(postgres["public.pgbench_history"] == Int(historyRows), "WAL after the backup was replayed to the end")
        #expect((databases.first { $0["name"] as? String == "tenant" }?["indexesChecked"] as? Int ?? 0) > 0)
        #expect((report["recoverySeconds"] as? Double ?? 0) > 0)
        let kept = try #require(report["directory"] as? String)
        #expect(FileManager.default.fileExists(atPath: kept + "/pgdata/PG_VERSION"), "--keep keeps the directory")
        #expect(!FileManager.default.fileExists(atPath: kept + "/pgdata/postmaster.pid"), "and the server is stopped")
        try FileManager.default.removeItem(atPath: kept)

        // Bad input: as root (PostgreSQL would refuse), and a --postgres-bin without pg_ctl.
        if getuid() == 0 {
            let asRoot = try run(ws.walvault, ["--config", config, "drill", "--directory", drills], environment: environment)
            #expect(
                asRoot.status == 1 && asRoot.stderr.contains("refuses to run as root") && asRoot.stderr.contains("sudo -u postgres"),
                "\(asRoot.stderr)")
        }
        let noBin = try walvault(["drill", "--directory", drills, "--postgres-bin", "/nonexistent"])
        #expect(noBin.status == 1 && noBin.stderr.contains("--postgres-bin /nonexistent holds no pg_ctl"), "\(noBin.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: drills).isEmpty)

        // A segment the drill needs, gone from the only store: one clear line, nothing left behind.
        let segments = filesRecursively(store + "/main/wal").filter {
            $0.hasPrefix("0000000100000000/") && !$0.contains(".backup") && !$0.contains("/.")
        }.sorted()
        let victim = segments[segments.count - 2]
        try FileManager.default.removeItem(atPath: store + "/main/wal/" + victim)
        let failed = try walvault(["drill", "--directory", drills])
        #expect(failed.status == 1)
        let name = String(victim.split(separator: "/")[1].prefix(24))
        let errorLines = failed.stderr.split(separator: "\n").filter { $0.hasPrefix("walvault drill: error: ") }
        #expect(errorLines.count == 1 && errorLines[0].contains("WAL segment \(name) is in no store"), "\(failed.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: drills).isEmpty)
        let webhook = sinks.received("webhook")
        #expect(webhook.count == 1 && webhook[0].contains("drill"), "one alert for the failed drills (the rest within the hour): \(webhook)")
        let rows = try cluster.sql(
            "SELECT string_agg(status::text, ',' ORDER BY created_at) FROM control_plane.backups WHERE type = 'database' AND operation = 'drill'")
        #expect(rows == "succeeded,succeeded,failed,failed\(getuid() == 0 ? ",failed" : "")", "history: \(rows)")
        try cluster.stop()
    }
}
