import Foundation
import Testing

/// kill -9 at any moment of a push leaves either nothing or a complete object under the final name.
@Suite struct CrashSafetyTests {
    @Test func killNineMidPushNeverLeavesAPartialObject() throws {
        let ws = try Workspace()
        // A real 64 MiB segment from a real server: large enough that kills land mid-write.
        let cluster = PostgresCluster(workspace: ws)
        try cluster.initdb(settings: ["max_wal_size": "'1GB'", "wal_keep_size": "'1GB'"], arguments: ["--wal-segsize=64"])
        try cluster.start()
        try cluster.sql("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, 500000) g")
        let segment = try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
        try cluster.stop()
        let source = ws.file(segment)
        try FileManager.default.copyItem(atPath: cluster.pgdata + "/pg_wal/" + segment, toPath: source)
        let original = try Data(contentsOf: URL(fileURLWithPath: source))
        #expect(original.count == 64 << 20)

        let store = try ws.mkdir("store")
        let config = try ws.config(stores: [store], extra: "[compression]\nalgorithm = \"none\"")
        let directory = store + "/main/wal/" + String(segment.prefix(16))
        for delayMs in [0, 1, 3, 6, 10, 20, 35, 60, 90, 150] {
            let pid = try spawn(ws.walvault, ["--config", config, "archive-push", source])
            usleep(UInt32(delayMs * 1000))
            kill(pid, SIGKILL)
            _ = waitFor(pid)

            let visible = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { !$0.hasPrefix(".") }
            #expect(visible.count <= 1)
            if visible.count == 1 {
                let fetched = ws.file("fetched")
                let get = try ws.walvault(["--config", config, "archive-get", segment, fetched])
                #expect(get.status == 0, "a visible object must be complete: \(get.stderr)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: fetched)) == original)
                try FileManager.default.removeItem(atPath: fetched)
            }
        }
        let push = try ws.walvault(["--config", config, "archive-push", source])
        #expect(push.status == 0, "\(push.stderr)")
        let get = try ws.walvault(["--config", config, "archive-get", segment, ws.file("final")])
        #expect(get.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: ws.file("final"))) == original)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".walvault-tmp") }
        #expect(leftovers.isEmpty, "temporary files of killed pushes are cleaned up by the next push: \(leftovers)")
    }
}

/// Push-ahead (issue 16) with kill -9 at random moments: a status entry exists only for a segment
/// that every sync store holds with that checksum, and PostgreSQL then archives everything.
@Suite struct PushAheadCrashTests {
    @Test func killNineDuringPushAheadNeverMarksASegmentThatIsNotStored() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let spool = try ws.mkdir("spool")
        let cluster = PostgresCluster(workspace: ws)
        let config = try ws.config(stores: [store], extra: "spool = \"\(spool)\"\n[performance]\npush_parallel = 3")
        // Archiving fails at first, so a backlog of .ready segments builds up.
        try cluster.initdb(settings: ["wal_level": "replica", "archive_mode": "on", "archive_command": "'/bin/false'", "max_wal_size": "'1GB'"])
        try ws.giveToPostgres()
        try cluster.start()
        try cluster.sql("CREATE TABLE t (id int, payload text)")
        for _ in 0..<14 {
            try cluster.sql("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g")
            try cluster.sql("SELECT pg_switch_wal()")
        }
        let statusDir = cluster.pgdata + "/pg_wal/archive_status"
        func ready() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: statusDir)) ?? []).filter { $0.hasSuffix(".ready") && $0.count == 30 }
                .map { String($0.dropLast(6)) }.sorted()
        }
        let backlog = ready()
        #expect(backlog.count >= 12)
        var generator = SystemRandomNumberGenerator()
        var entriesSeen = 0
        var workersKilled = 0
        for _ in 0..<8 {
            let first = try #require(ready().first)
            let pid = try spawn(ws.walvault, ["--config", config, "archive-push", cluster.pgdata + "/pg_wal/" + first], asPostgres: true)
            usleep(UInt32.random(in: 0...250_000, using: &generator))
            kill(pid, SIGKILL)
            _ = waitFor(pid)
            // The background worker it started (if it got that far), killed at another moment.
            usleep(UInt32.random(in: 0...150_000, using: &generator))
            if let text = try? String(contentsOfFile: spool + "/pushed/main/.worker", encoding: .utf8),
                let worker = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(worker, SIGKILL) == 0
            {
                workersKilled += 1
            }
            // Every entry: the segment is in the store with exactly that checksum.
            let entries = ((try? FileManager.default.contentsOfDirectory(atPath: spool + "/pushed/main")) ?? []).filter { !$0.hasPrefix(".") }
            let stored = filesRecursively(store).filter { $0.hasPrefix("main/wal/") && !Paths.basenameHasDot($0) }
            entriesSeen += entries.count
            for entry in entries {
                let segment = String(entry.prefix(24)), sha = String(entry.dropFirst(25))
                #expect(
                    stored.contains { Paths.lastComponent($0).hasPrefix(segment + "-") && $0.hasSuffix("-" + sha + ".zst") },
                    "status \(entry) without the stored object (store: \(stored))")
            }
        }
        // Then PostgreSQL archives it all through walvault; every entry is used up or still true.
        try cluster.sql("ALTER SYSTEM SET archive_command = '\(ws.walvault) --config \(config) archive-push %p'")
        try cluster.sql("SELECT pg_reload_conf()")
        let last = try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
        // (pg_stat_archiver already counts /bin/false's failures: wait for the last one archived.)
        var archivedLast = ""
        for _ in 0..<600 where archivedLast < last {
            archivedLast = try cluster.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
            usleep(100_000)
        }
        let failed = try cluster.sql("SELECT coalesce(last_failed_wal, '') FROM pg_stat_archiver")
        #expect(archivedLast >= last, "archiving stopped; last failure: \(failed)")
        let stored = Set(filesRecursively(store).filter { $0.hasPrefix("main/wal/0") }.map { String(Paths.lastComponent($0).prefix(24)) })
        #expect(entriesSeen > 0, "some kills landed after segments were pushed ahead")
        #expect(workersKilled > 0, "some kills hit a push-ahead worker")
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: spool + "/pushed/main")) ?? []).filter { !$0.hasPrefix(".") }
        #expect(left.isEmpty, "PostgreSQL's calls used every entry: \(left)")
        #expect(ready().isEmpty)
        #expect(backlog.allSatisfy(stored.contains), "every segment of the backlog is archived")
        try cluster.stop()
    }
}

private enum Paths {
    static func lastComponent(_ path: String) -> String { path.split(separator: "/").last.map(String.init) ?? path }
    static func basenameHasDot(_ path: String) -> Bool { lastComponent(path).hasPrefix(".") }
}
