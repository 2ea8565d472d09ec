import Foundation
import Testing
import WalvaultTesting

/// `walvault check` against real PostgreSQL 15: healthy, then each way it must fail, naming the check.
@Suite struct CheckTests {
    @Test func aHealthySetupPassesAndEachFaultIsNamed() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let spool = try ws.mkdir("spool")
        let pgdata = ws.file("pgdata")
        let config = try ws.config(
            stores: [store],
            extra: """
                pgdata = "\(pgdata)"
                conninfo = "host=\(ws.path) port=PORT user=postgres dbname=postgres"
                spool = "\(spool)"
                [check]
                round_trip_seconds = 5
                """)
        let cluster = PostgresCluster(workspace: ws, name: "pgdata")
        try cluster.initdb(settings: [
            "wal_level": "replica", "archive_mode": "on",
            "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
        ])
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "PORT", with: "\(cluster.port)")
            .write(toFile: config, atomically: true, encoding: .utf8)
        try ws.giveToPostgres()
        try cluster.start()
        defer { try? cluster.stop(mode: "immediate") }
        func check(_ path: String = config) throws -> ProcessResult { try ws.walvault(["--config", path, "check"], asPostgres: true) }

        // No backup yet: named.
        let before = try check()
        #expect(before.status == 1)
        #expect(before.stdout.contains("FAIL last backup: no complete backup"), "\(before.stdout)")

        let backup = try ws.walvault(["--config", config, "backup"], asPostgres: true)
        #expect(backup.status == 0, "\(backup.stderr)")
        let healthy = try check()
        #expect(healthy.status == 0, "\(healthy.stdout) \(healthy.stderr)")
        for name in [
            "archiving", "round trip", "store \"store1\"", "last backup", "free space for pg_wal", "free space for store \"store1\"",
            "free space for the spool"
        ] {
            #expect(healthy.stdout.contains("ok   \(name):"), "\(name) in \(healthy.stdout)")
        }
        #expect(filesRecursively(store).allSatisfy { !$0.contains(".walvault-check-") }, "the probe is removed")
        let json =
            try JSONSerialization.jsonObject(with: Data(try ws.walvault(["--config", config, "check", "--json"], asPostgres: true).stdout.utf8))
            as? [String: Any]
        #expect((json?["checks"] as? [[String: Any]])?.allSatisfy { $0["ok"] as? Bool == true } == true)

        // The backup dated back two days: too old.
        let manifests = filesRecursively(store).filter { $0.hasSuffix("backup.manifest") || $0.hasSuffix("backup.manifest.copy") }
        #expect(manifests.count == 2)
        for manifest in manifests {
            let path = store + "/" + manifest
            let dated = try run(
                "/usr/bin/env",
                [
                    "python3", "-c",
                    """
                    import json, os, sys
                    m = json.load(open(sys.argv[1])); m["stopTime"] -= 48 * 3600 * 1000000; m["startTime"] -= 48 * 3600 * 1000000
                    open(sys.argv[1] + ".new", "w").write(json.dumps(m)); os.replace(sys.argv[1] + ".new", sys.argv[1])
                    """, path
                ], asPostgres: true)
            #expect(dated.status == 0, "\(dated.stderr)")
        }
        let old = try check()
        #expect(old.status == 1)
        #expect(old.stdout.contains("FAIL last backup: "), "\(old.stdout)")
        #expect(old.stdout.contains("old (at most 28 h)"))

        // A store that is not there (an unmounted disk).
        let gone = try ws.write(
            "gone.toml",
            try String(contentsOfFile: config, encoding: .utf8)
                + "\n[[stores]]\nname = \"backupdisk\"\ntype = \"local\"\npath = \"\(ws.file("not-mounted"))\"\n")
        try ws.giveToPostgres()
        let unreachable = try check(gone)
        #expect(unreachable.status == 1)
        #expect(unreachable.stdout.contains("FAIL store \"backupdisk\": "), "\(unreachable.stdout)")

        // archive_command that does not reach the stores: the round trip names it.
        try cluster.sql("ALTER SYSTEM SET archive_command = '/bin/true'")
        _ = try cluster.sql("SELECT pg_reload_conf()")
        try cluster.waitForSetting("archive_command", "/bin/true")
        let wrong = try check()
        #expect(wrong.status == 1)
        #expect(wrong.stdout.contains("FAIL round trip: "), "\(wrong.stdout)")
        let again = try check()
        #expect(again.stdout.contains("FAIL archiving: "), "\(again.stdout)")
        for line in (wrong.stdout + again.stdout).split(separator: "\n") { #expect(line.hasPrefix("ok   ") || line.hasPrefix("FAIL ")) }
    }
}
