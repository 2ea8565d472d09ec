import Foundation
import Testing

/// PostgreSQL's own archiver drives walvault: the contract is judged by the server, not by us.
@Suite struct RealArchiverTests {
    @Test func everySegmentTheServerArchivesComesBackByteForByte() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let cluster = PostgresCluster(workspace: ws)
        let config = try ws.config(stores: [store], extra: "pgdata = \"\(cluster.pgdata)\"")
        try cluster.initdb(settings: [
            "wal_level": "replica",
            "archive_mode": "on",
            "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'",
            // Keep every segment in pg_wal so what the server wrote can be compared with what comes back.
            "wal_keep_size": "'2GB'",
            "max_wal_size": "'2GB'",
            "checkpoint_timeout": "'1h'"
        ])
        try cluster.start()

        try cluster.sql("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, 300000) g")
        for round in 1...3 {
            try cluster.sql("INSERT INTO t SELECT g, md5((g * \(round))::text) FROM generate_series(1, 30000) g")
            try cluster.sql("SELECT pg_switch_wal()")
        }
        // A base backup makes the server archive a .backup history file too.
        try cluster.sql("SELECT pg_backup_start('walvault-test', true); SELECT lsn FROM pg_backup_stop()")
        let last = try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
        let stats = try cluster.waitForArchive(of: last)
        #expect(stats.failed == 0)

        let stored = filesRecursively(store + "/main/wal").filter { !($0 as NSString).lastPathComponent.hasPrefix(".") }
        let walNames = stored.map { String(($0 as NSString).lastPathComponent.split(separator: "-")[0]) }
        let done = try FileManager.default.contentsOfDirectory(atPath: cluster.pgdata + "/pg_wal/archive_status")
            .filter { $0.hasSuffix(".done") }.map { String($0.dropLast(5)) }
        #expect(Set(walNames) == Set(done), "every file the server marked archived is in the store, and nothing else")
        #expect(stats.archived == stored.count)
        #expect(walNames.filter { $0.count == 24 }.count >= 5)
        #expect(walNames.contains { $0.hasSuffix(".backup") })

        try FileManager.default.createDirectory(atPath: ws.file("fetched"), withIntermediateDirectories: true)
        try ws.giveToPostgres()
        var compared = 0
        for name in walNames {
            let destination = ws.file("fetched/\(name)")
            let result = try ws.walvault(["--config", config, "archive-get", name, destination], asPostgres: true)
            #expect(result.status == 0, "archive-get \(name): \(result.stderr)")
            #expect(result.stderr.isEmpty)
            let original = try Data(contentsOf: URL(fileURLWithPath: cluster.pgdata + "/pg_wal/" + name))
            let fetched = try Data(contentsOf: URL(fileURLWithPath: destination))
            #expect(fetched == original, "\(name) differs from what the server wrote")
            compared += 1
        }
        #expect(compared == walNames.count)
        // Compression did its job on real WAL.
        let storedBytes = try stored.reduce(0) {
            $0 + ((try FileManager.default.attributesOfItem(atPath: store + "/main/wal/" + $1)[.size] as? Int) ?? 0)
        }
        #expect(storedBytes < compared * (16 << 20) / 2)
        #expect(try cluster.sql("SELECT failed_count FROM pg_stat_archiver") == "0")
        try cluster.stop()
    }

    @Test func aSegmentOfAnotherClusterMakesTheArchiverFailAndRetryNotLoseIt() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        // The store is already bound to another cluster with the same [cluster] name.
        let config = try ws.config(stores: [store])
        try FileManager.default.createDirectory(atPath: store + "/main", withIntermediateDirectories: true)
        let info = "format = 1\nsystem_identifier = \"42\"\nwal_segment_size = 16777216\npostgres_version = 15\n"
        _ = try ws.write("store/main/archive.info", info)
        _ = try ws.write("store/main/archive.info.copy", info)
        let cluster = PostgresCluster(workspace: ws)
        try cluster.initdb(settings: [
            "archive_mode": "on",
            "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
        ])
        try cluster.start()
        let first = try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
        let stats = try cluster.waitForArchive(of: first)
        #expect(stats.failed > 0)
        #expect(stats.archived == 0)
        let log = try String(contentsOfFile: cluster.pgdata + ".log", encoding: .utf8)
        #expect(log.contains("walvault archive-push: error: WAL segment \(first) comes from a cluster with system identifier"))
        #expect(FileManager.default.fileExists(atPath: cluster.pgdata + "/pg_wal/" + first), "PostgreSQL keeps the segment")
        try cluster.stop(mode: "immediate")
    }
}
