import Foundation
import Testing

/// expire against real PostgreSQL: what it deletes never stops a restore inside the window.
@Suite struct RetentionTests {
    @Test func afterExpireTheWindowStillRestores() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let pgdata = ws.file("pgdata")
        let cluster = PostgresCluster(workspace: ws, name: "pgdata")
        let config = try ws.config(
            stores: [store],
            extra: """
                pgdata = "\(pgdata)"
                conninfo = "host=\(ws.path) port=\(cluster.port) user=postgres dbname=postgres"
                spool = "\(try ws.mkdir("spool"))"
                [retention]
                days = 30
                [history]
                conninfo = "host=\(ws.path) port=\(cluster.port) user=postgres dbname=postgres"
                project_id = "retention"
                journal = "\(ws.file("journal/history.jsonl"))"
                """)
        try cluster.initdb(settings: [
            "wal_level": "replica", "archive_mode": "on",
            "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
        ])
        try ws.giveToPostgres()
        try cluster.start()
        func switchAndWait() throws {
            let file = try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
            #expect(try cluster.waitForArchive(of: file).failed == 0)
        }
        #expect(try ws.walvault(["--config", config, "migrate"], asPostgres: true).status == 0)
        try cluster.sql("CREATE TABLE t (n int)")
        try cluster.sql("INSERT INTO t SELECT generate_series(1, 1000)")
        try switchAndWait()
        let first = try ws.walvault(["--config", config, "backup", "--type", "full", "--no-expire"], asPostgres: true)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(!first.stdout.contains("expire:"))
        for _ in 0..<3 {
            try cluster.sql("INSERT INTO t SELECT generate_series(1, 1000)")
            try switchAndWait()
        }
        let firstLabel = try cluster.sql("SELECT object_name FROM control_plane.backups WHERE operation = 'backup'")
        // The first estimate: the store's window from the row's creation.
        #expect(
            try cluster.sql("SELECT bool_and(expires_at = created_at + interval '30 days') FROM control_plane.backups WHERE operation = 'backup'")
                == "t")
        let second = try ws.walvault(["--config", config, "backup", "--type", "full"], asPostgres: true)
        #expect(second.status == 0, "\(second.stderr)")
        // With [retention], backup runs expire at its end: today no backup is past the window (only
        // WAL from before the oldest backup, which no restore can use, goes).
        #expect(second.stdout.contains("expire: 0 backups past the window deleted; objects removed per store: store1 "), "\(second.stdout)")
        // The second backup's expire moved the first one's expiry: it stays until the second leaves the window.
        #expect(
            try cluster.sql(
                "SELECT bool_and(expires_at > created_at + interval '30 days') FROM control_plane.backups WHERE object_name = '\(firstLabel)' AND operation = 'backup'"
            ) == "t")
        // The moment the window will start at: after the second backup, before the next rows.
        let windowStart = try cluster.sql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
        let rowsAtWindowStart = try cluster.sql("SELECT count(*) FROM t")
        try cluster.waitForClock(pastBy: 2, windowStart)
        try cluster.sql("INSERT INTO t SELECT generate_series(1, 1000)")
        try switchAndWait()
        let rows = try cluster.sql("SELECT count(*) FROM t")
        #expect(rows != rowsAtWindowStart)
        let walBefore = filesRecursively(store + "/main/wal").filter { !$0.contains("/.") && !$0.hasPrefix(".") && $0.contains("/") }

        // 30 days after windowStart both backups are older than the window: the newer one stays (it
        // is the newest, and the only way to reach the window's first moment), the older one and the
        // WAL before the newer one's start go.
        let asOf = try cluster.sql(
            "SELECT to_char((timestamptz '\(windowStart)' + interval '30 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
        let dry = try ws.walvault(["--config", config, "expire", "--dry-run", "--as-of", asOf], asPostgres: true)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("keep backup"))
        #expect(dry.stdout.contains("delete backup"))
        let planned = try ws.walvault(["--config", config, "expire", "--dry-run", "--json", "--as-of", asOf], asPostgres: true)
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(planned.stdout.utf8)) as? [String: Any])
        let decisions = try #require((plan["stores"] as? [[String: Any]])?.first)
        let keep = Set((decisions["keep"] as? [[String: String]] ?? []).compactMap { $0["name"] })
        let deleteCount = (decisions["delete"] as? [[String: String]] ?? []).count
        func stored() -> Set<String> {
            Set(
                filesRecursively(store + "/main").filter { !$0.split(separator: "/").contains { $0.hasPrefix(".") } }.compactMap { path -> String? in
                    let parts = path.split(separator: "/")
                    if parts.first == "backup", parts.count >= 2 { return String(parts[1]) }
                    if parts.first == "wal", parts.count == 3, Array(parts[2]).count > 24, Array(parts[2])[24] == "-" {
                        return String(parts[2].prefix(24))
                    }
                    return nil
                })
        }
        #expect(stored().isSuperset(of: keep))
        // kill -9 at the 1st, 2nd and 4th deletion of three runs in turn (strace injects the signal
        // as the unlink starts): each leaves no damaged backup behind; the next run goes on.
        func fileCount() -> Int { filesRecursively(store + "/main").filter { !$0.split(separator: "/").contains { $0.hasPrefix(".") } }.count }
        // Issue 24: --as-of later than now forecasts: the plan, and nothing deleted without --force.
        let before = fileCount()
        let forecast = try ws.walvault(["--config", config, "expire", "--as-of", asOf], asPostgres: true)
        #expect(forecast.status == 0, "\(forecast.stderr)")
        #expect(forecast.stderr.contains("is later than now: this is a forecast, and nothing is deleted (add --force"), "\(forecast.stderr)")
        #expect(forecast.stdout.contains("delete backup"), "\(forecast.stdout)")
        #expect(fileCount() == before)
        var seen = [fileCount()]
        for n in [1, 2, 4] {
            let killed = try run(
                "/usr/bin/strace",
                [
                    "-f", "-o", "/dev/null", "-e", "trace=unlink,unlinkat", "-e", "inject=unlink,unlinkat:signal=KILL:when=\(n)",
                    ws.walvault, "--config", config, "expire", "--as-of", asOf, "--force"
                ], asPostgres: true)
            #expect(killed.status != 0 && !killed.stdout.contains("deleted"), "run \(n) was killed: \(killed.status) \(killed.stdout)")
            let info = try ws.walvault(["--config", config, "info"], asPostgres: true)
            #expect(info.status == 0 && !info.stdout.contains("damaged"), "\(info.stdout)")
            seen.append(fileCount())
        }
        // Killed as the 1st unlink began: nothing gone; at the 2nd: the first object; at the 4th: more.
        #expect(seen[1] == seen[0] && seen[2] == seen[0] - 1 && seen[3] < seen[2], "the kills fell between deletions: \(seen)")
        let expire = try ws.walvault(["--config", config, "expire", "--as-of", asOf, "--force"], asPostgres: true)
        #expect(expire.status == 0, "\(expire.stderr)")
        #expect(expire.stdout.contains("deleted"))
        #expect(
            stored() == keep,
            "exactly what the plan keeps: extra \(stored().subtracting(keep).sorted()), missing \(keep.subtracting(stored()).sorted())")
        // History: the deleted backup's rows are marked, the kept one's are not and are due a window after --as-of.
        #expect(
            try cluster.sql(
                "SELECT bool_and(expired_at IS NOT NULL) FROM control_plane.backups WHERE object_name = '\(firstLabel)' AND operation = 'backup'")
                == "t")
        // Every segment row is marked exactly when the segment is gone, including those the killed runs deleted.
        let keptSegments = keep.filter { $0.count == 24 }.sorted().joined(separator: ",")
        #expect(
            try cluster.sql(
                "SELECT count(*) FROM control_plane.backups WHERE operation = 'archive-push' AND object_name ~ '^[0-9A-F]{24}$' AND (expired_at IS NULL) <> (object_name = ANY('{\(keptSegments)}'))"
            ) == "0")
        #expect(deleteCount > 0)
        #expect(
            try cluster.sql(
                "SELECT bool_and(expired_at IS NULL AND expires_at > now() + interval '59 days') FROM control_plane.backups WHERE operation = 'backup' AND object_name <> '\(firstLabel)'"
            ) == "t")
        #expect(try cluster.sql("SELECT count(*) FROM control_plane.backups WHERE operation = 'archive-push' AND expired_at IS NOT NULL") != "0")
        let info = try ws.walvault(["--config", config, "info"], asPostgres: true)
        #expect(info.stdout.components(separatedBy: "  backup ").count - 1 == 1, "\(info.stdout)")
        let walAfter = filesRecursively(store + "/main/wal").filter { !$0.contains("/.") && !$0.hasPrefix(".") && $0.contains("/") }
        #expect(walAfter.count < walBefore.count)
        #expect(!info.stdout.contains("GAP"))

        try cluster.stop(mode: "immediate")
        let newData = ws.file("restored")
        // The oldest moment inside the window, after expire.
        let restore = try ws.walvault(["--config", config, "restore", "--pgdata", newData, "--target-time", windowStart], asPostgres: true)
        #expect(restore.status == 0, "\(restore.stdout) \(restore.stderr)")
        let restored = PostgresCluster(workspace: ws, pgdata: newData, port: cluster.port)
        try restored.start()
        try restored.waitForPromotion()
        #expect(try restored.sql("SELECT count(*) FROM t") == rowsAtWindowStart)
        try restored.stop()
    }
}
