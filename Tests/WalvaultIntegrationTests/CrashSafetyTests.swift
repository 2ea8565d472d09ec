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
