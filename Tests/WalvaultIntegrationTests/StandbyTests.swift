import Foundation
import Testing

/// restore_command in a streaming standby: a store that cannot be reached for a moment must not
/// shut the standby down (PostgreSQL treats an exit status above 125 as fatal).
@Suite struct StandbyTests {
    @Test func aStandbyKeepsStreamingWhileItsStoreIsUnreachable() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let config = try ws.config(stores: [store])
        let primary = PostgresCluster(workspace: ws, name: "primary")
        try primary.initdb(settings: [
            "wal_level": "replica", "archive_mode": "on",
            "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
        ])
        try ws.giveToPostgres()
        try primary.start()
        try primary.sql("CREATE TABLE ticks (n int)")
        let switched = try primary.sql("SELECT pg_walfile_name(pg_switch_wal())")
        #expect(try primary.waitForArchive(of: switched).failed == 0)

        // The standby reads from the same store through a config of its own, whose store is gone.
        let standbyStore = ws.file("standby-store-unmounted")
        let standbyConfig = try ws.write(
            "standby.toml", "[cluster]\nname = \"main\"\n[[stores]]\nname = \"s\"\ntype = \"local\"\npath = \"\(standbyStore)\"\n")
        let standby = PostgresCluster(workspace: ws, pgdata: ws.file("standby"), port: Fixture.freePort())
        let base = try run(
            Fixture.postgresBin + "/pg_basebackup",
            [
                "-h", ws.path, "-p", "\(primary.port)", "-U", "postgres",
                "-D", standby.pgdata, "-X", "stream", "-R"
            ], asPostgres: true)
        #expect(base.status == 0, "\(base.stderr)")
        let conf =
            "\nport = \(standby.port)\narchive_mode = off\nrestore_command = '\(ws.walvault) --config \(standbyConfig) archive-get %f \"%p\"'\n"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: standby.pgdata + "/postgresql.conf"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(conf.utf8))
        try handle.close()
        #expect(FileManager.default.fileExists(atPath: standby.pgdata + "/standby.signal"))
        try ws.giveToPostgres()
        try standby.start()

        // The standby asked the archive (and was refused) before it started streaming; it is still up.
        try primary.sql("INSERT INTO ticks SELECT generate_series(1, 100)")
        var seen = ""
        for _ in 0..<300 {
            seen = (try? standby.sql("SELECT count(*) FROM ticks")) ?? ""
            if seen == "100" { break }
            usleep(100_000)
        }
        #expect(
            seen == "100",
            "the standby did not stream: \((try? String(contentsOfFile: standby.pgdata + ".log", encoding: .utf8))?.suffix(2000) ?? "")")
        let log = (try? String(contentsOfFile: standby.pgdata + ".log", encoding: .utf8)) ?? ""
        #expect(log.contains("walvault archive-get: error: cannot deliver"), "each failure is still one line in the log")
        #expect(log.contains("store \"s\": store directory \(standbyStore) does not exist"))
        #expect(log.contains("the standby keeps streaming and will ask again"))
        #expect(!log.contains("FATAL:  could not restore file"))
        #expect(try standby.sql("SELECT pg_is_in_recovery()") == "t")

        // A switch on the primary makes the standby ask for the next timeline's history and
        // segments again; it keeps running through every refusal.
        try primary.sql("SELECT pg_switch_wal()")
        try primary.sql("INSERT INTO ticks SELECT generate_series(1, 50)")
        for _ in 0..<300 {
            seen = (try? standby.sql("SELECT count(*) FROM ticks")) ?? ""
            if seen == "150" { break }
            usleep(100_000)
        }
        #expect(seen == "150")
        try standby.stop()
        try primary.stop()
    }

    /// The same failure in a targeted recovery (recovery.signal) still stops recovery: 255.
    @Test func theExitStatusFollowsTheSignalFile() throws {
        let ws = try Workspace()
        let config = try ws.write("w.toml", "[cluster]\nname = \"main\"\n[[stores]]\nname = \"s\"\ntype = \"local\"\npath = \"\(ws.file("gone"))\"\n")
        for (signal, status) in [("standby.signal", Int32(1)), ("recovery.signal", Int32(255))] {
            let dataDirectory = try ws.mkdir("data-" + signal)
            _ = try ws.write("data-\(signal)/\(signal)", "")
            let result = try run(
                "/bin/sh",
                ["-c", "cd '\(dataDirectory)' && exec '\(ws.walvault)' --config '\(config)' archive-get 00000002.history pg_wal/RECOVERYHISTORY"])
            #expect(result.status == status, "\(signal): \(result.stderr)")
            #expect(result.stderr.hasPrefix("walvault archive-get: error: cannot deliver 00000002.history intact: store \"s\": store directory"))
            #expect(result.stderr.contains(signal == "standby.signal" ? "the standby keeps streaming" : "recovery was stopped"))
            #expect(result.stderr.split(separator: "\n").count == 1)
            // A config that cannot be read, and a usage error, follow the same rule.
            let noConfig = try run(
                "/bin/sh", ["-c", "cd '\(dataDirectory)' && exec '\(ws.walvault)' --config '\(ws.file("none.toml"))' archive-get 00000002.history x"])
            #expect(noConfig.status == status, "\(signal): \(noConfig.stderr)")
            let usage = try run("/bin/sh", ["-c", "cd '\(dataDirectory)' && exec '\(ws.walvault)' archive-get"])
            #expect(usage.status == status, "\(signal): \(usage.stderr)")
        }
    }
}
