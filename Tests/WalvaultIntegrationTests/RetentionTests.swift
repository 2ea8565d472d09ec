import Foundation
import Testing

/// expire against real PostgreSQL: what it deletes never stops a restore inside the window.
@Suite struct RetentionTests {
    @Test func afterExpireTheWindowStillRestores() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let pgdata = ws.file("pgdata")
        let cluster = PostgresCluster(workspace: ws, name: "pgdata")
        let config = try ws.config(stores: [store], extra: """
            pgdata = "\(pgdata)"
            conninfo = "host=\(ws.path) port=\(cluster.port) user=postgres dbname=postgres"
            spool = "\(try ws.mkdir("spool"))"
            [retention]
            days = 30
            """)
        try cluster.initdb(settings: ["wal_level": "replica", "archive_mode": "on",
                                      "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"])
        try ws.giveToPostgres()
        try cluster.start()
        func switchAndWait() throws {
            let file = try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
            #expect(try cluster.waitForArchive(of: file).failed == 0)
        }
        try cluster.sql("CREATE TABLE t (n int)")
        try cluster.sql("INSERT INTO t SELECT generate_series(1, 1000)")
        try switchAndWait()
        let first = try ws.walvault(["--config", config, "backup", "--no-expire"], asPostgres: true)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(!first.stdout.contains("expire:"))
        for _ in 0..<3 {
            try cluster.sql("INSERT INTO t SELECT generate_series(1, 1000)")
            try switchAndWait()
        }
        let second = try ws.walvault(["--config", config, "backup"], asPostgres: true)
        #expect(second.status == 0, "\(second.stderr)")
        // With [retention], backup runs expire at its end: today no backup is past the window (only
        // WAL from before the oldest backup, which no restore can use, goes).
        #expect(second.stdout.contains("expire: 0 backups past the window deleted; objects removed per store: store1 "), "\(second.stdout)")
        try cluster.sql("INSERT INTO t SELECT generate_series(1, 1000)")
        try switchAndWait()
        let rows = try cluster.sql("SELECT count(*) FROM t")
        let walBefore = filesRecursively(store + "/main/wal").filter { !$0.contains("/.") && !$0.hasPrefix(".") && $0.contains("/") }

        // 31 days from now both backups are older than the window: the newer one stays (it is the
        // newest), the older one and the WAL before the newer one's start go.
        let asOf = try cluster.sql("SELECT to_char((now() + interval '31 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'")
        let dry = try ws.walvault(["--config", config, "expire", "--dry-run", "--as-of", asOf], asPostgres: true)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("keep backup"))
        #expect(dry.stdout.contains("delete backup"))
        let expire = try ws.walvault(["--config", config, "expire", "--as-of", asOf], asPostgres: true)
        #expect(expire.status == 0, "\(expire.stderr)")
        #expect(expire.stdout.contains("deleted"))
        let info = try ws.walvault(["--config", config, "info"], asPostgres: true)
        #expect(info.stdout.components(separatedBy: "  backup ").count - 1 == 1, "\(info.stdout)")
        let walAfter = filesRecursively(store + "/main/wal").filter { !$0.contains("/.") && !$0.hasPrefix(".") && $0.contains("/") }
        #expect(walAfter.count < walBefore.count)
        #expect(!info.stdout.contains("GAP"))

        try cluster.stop(mode: "immediate")
        let newData = ws.file("restored")
        let restore = try ws.walvault(["--config", config, "restore", "--pgdata", newData, "--target", "latest"], asPostgres: true)
        #expect(restore.status == 0, "\(restore.stdout) \(restore.stderr)")
        let restored = PostgresCluster(workspace: ws, pgdata: newData, port: cluster.port)
        try restored.start()
        try restored.waitForPromotion()
        #expect(try restored.sql("SELECT count(*) FROM t") == rows)
        try restored.stop()
    }
}
