import Foundation
import Testing
import WalvaultTesting

/// `walvault init` on real PostgreSQL 15 clusters, as a new user has them: nothing configured.
@Suite struct InitTests {
    /// A cluster with initdb's settings only (archive_mode off), running.
    private func freshCluster(_ ws: Workspace) throws -> PostgresCluster {
        let cluster = PostgresCluster(workspace: ws)
        try cluster.initdb(settings: [:])
        try ws.giveToPostgres()
        try cluster.start()
        return cluster
    }

    private func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

    @Test func protectsAFreshClusterThatThenRestoresToATimeAndASecondRunChangesNothing() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let cron = try ws.mkdir("cron.d")
        let cluster = try freshCluster(ws)
        defer { try? cluster.stop(mode: "immediate") }
        try cluster.sql("CREATE TABLE events (id serial PRIMARY KEY, note text)")
        try cluster.sql("INSERT INTO events (note) SELECT 'before init ' || g FROM generate_series(1, 1000) g")

        let s3 = try S3TestServer.get()
        let prefix = "init-\(UUID().uuidString.prefix(8).lowercased())"
        let endpoint = s3.endpoint.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let config = ws.file("etc/walvault.toml")
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = s3.accessKeyID
        environment["AWS_SECRET_ACCESS_KEY"] = s3.secretAccessKey
        let arguments = [
            "init", "--config", config, "--pgdata", cluster.pgdata, "--store", "local:\(store)",
            "--store", "s3://\(s3.bucket)/\(prefix)?region=\(s3.region)&endpoint=\(endpoint)&path_style=true",
            "--encrypt", "--yes", "--restart", "--backup", "--spool", ws.file("spool"), "--schedule", "cron", "--schedule-directory", cron
        ]
        let first = try run(ws.walvault, arguments, environment: environment)
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        #expect(first.stdout.contains("ALTER SYSTEM SET archive_mode = 'on' (was 'off')"), "\(first.stdout)")
        #expect(first.stdout.contains("ALTER SYSTEM SET archive_command"))
        #expect(first.stdout.contains("restarting PostgreSQL for archive_mode"))
        #expect(first.stdout.contains("store \"s3\": wrote, read back and deleted a probe"))
        #expect(first.stdout.contains("Keep a copy somewhere else now"))
        #expect(first.stdout.contains("check: ok   round trip"))
        #expect(first.stdout.contains("walvault init: protected: any moment from"))
        #expect(try cluster.sql("SHOW archive_mode") == "on")
        #expect(try cluster.sql("SHOW archive_command").contains("--config \(config) archive-push %p"))
        #expect(try cluster.sql("SHOW archive_timeout") == "1min")

        // Secrets: each in a 0600 file of the cluster's owner, named by the config, never in it or in the output.
        let configText = try String(contentsOfFile: config, encoding: .utf8)
        let passphrase = try String(contentsOfFile: ws.file("etc/passphrase"), encoding: .utf8).trimmingCharacters(in: .newlines)
        #expect(passphrase.count == 64)
        for (name, secret) in [("passphrase", passphrase), ("s3-access-key-id", s3.accessKeyID), ("s3-secret-access-key", s3.secretAccessKey)] {
            let attributes = try FileManager.default.attributesOfItem(atPath: ws.file("etc/\(name)"))
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(name)")
            #expect((attributes[.ownerAccountName] as? String) == (getuid() == 0 ? "postgres" : NSUserName()), "\(name)")
            #expect(!configText.contains(secret), "\(name) in the config")
            #expect(!first.stdout.contains(secret) && !first.stderr.contains(secret), "\(name) in the output")
        }
        #expect(configText.contains("mode = \"async\""), "the cloud store ships in the background")
        #expect(configText.contains("# [alerts]"), "every section, commented")
        let cronText = try String(contentsOfFile: cron + "/walvault-backup", encoding: .utf8)
        #expect(cronText.contains("0 3 * * * postgres \(ws.walvault) --config \(config) backup"), "\(cronText)")
        #expect(FileManager.default.fileExists(atPath: cron + "/walvault-checks"))

        // A second run changes nothing: no file rewritten, no setting altered, no second backup.
        let modified = try FileManager.default.attributesOfItem(atPath: config)[.modificationDate] as? Date
        let backupsBefore = try FileManager.default.contentsOfDirectory(atPath: store + "/pgdata/backup")
        #expect(backupsBefore.count == 1)
        let second = try run(ws.walvault, arguments, environment: environment)
        #expect(second.status == 0, "\(second.stdout) \(second.stderr)")
        #expect(second.stdout.contains("\(config) unchanged"))
        #expect(second.stdout.contains("archive settings unchanged"))
        #expect(second.stdout.contains("kept the passphrase already in"))
        #expect(second.stdout.contains("exists already: not taking another"))
        #expect(second.stdout.contains("\(cron)/walvault-backup unchanged"))
        #expect(!second.stdout.contains("ALTER SYSTEM") && !second.stdout.contains("restarting"), "\(second.stdout)")
        #expect(try FileManager.default.attributesOfItem(atPath: config)[.modificationDate] as? Date == modified)
        #expect(try String(contentsOfFile: ws.file("etc/passphrase"), encoding: .utf8).hasPrefix(passphrase))
        #expect(try FileManager.default.contentsOfDirectory(atPath: store + "/pgdata/backup") == backupsBefore)

        // A backup's phase lines and notes with --log-format json: one object each, with the job's id.
        let logged = try ws.walvault(["--config", config, "--log-format", "json", "--verbose", "backup", "--no-expire", "--json"], asPostgres: true)
        #expect(logged.status == 0, "\(logged.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(logged.stdout.utf8)) as? [String: Any]
        #expect((summary?["total_bytes"] as? Int ?? 0) > 0 && (summary?["label"] as? String)?.isEmpty == false, "\(logged.stdout)")
        // init took the first backup, so this one is an incr on it, and only its own parts queue.
        #expect(summary?["type"] as? String == "incr" && summary?["queued_for"] as? [String] == ["s3"], "\(logged.stdout)")
        let shipped = try ws.walvault(["--config", config, "ship", "--json"], asPostgres: true)
        #expect(shipped.status == 0, "\(shipped.stderr)")
        let shipping = try JSONSerialization.jsonObject(with: Data(shipped.stdout.utf8)) as? [String: Any]
        #expect(shipping?["remaining"] as? [String: Int] != nil && shipping?["failures"] as? [String] == [], "\(shipped.stdout)")
        let lines = logged.stderr.split(separator: "\n")
        #expect(lines.count >= 3, "phase lines: \(logged.stderr)")
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
            #expect(object?["command"] == "backup" && object?["level"] != nil && object?["job_id"]?.isEmpty == false, "\(line)")
        }

        // The first backup restores, to a moment after it, with the config init wrote.
        try cluster.sql("INSERT INTO events (note) SELECT 'after backup ' || g FROM generate_series(1, 500) g")
        try cluster.sql("SELECT pg_switch_wal()")
        let target = try cluster.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
        try cluster.waitForClock(pastBy: 1.1, target)
        try cluster.sql("INSERT INTO events (note) SELECT 'after target ' || g FROM generate_series(1, 300) g")
        let segment = try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
        _ = try cluster.waitForArchive(of: segment)
        try cluster.stop(mode: "immediate")
        let restoredData = ws.file("restored")
        let restore = try ws.walvault(
            ["--config", config, "restore", "--pgdata", restoredData, "--target-time", target, "--json"], asPostgres: true)
        #expect(restore.status == 0, "\(restore.stdout) \(restore.stderr)")
        let restored_ = try JSONSerialization.jsonObject(with: Data(restore.stdout.utf8)) as? [String: Any]
        #expect((restored_?["files"] as? Int ?? 0) > 0 && restored_?["target"] as? String == target, "\(restore.stdout)")
        let restored = PostgresCluster(workspace: ws, pgdata: restoredData, port: cluster.port)
        try restored.start()
        defer { try? restored.stop(mode: "immediate") }
        try restored.waitForPromotion()
        #expect(try restored.sql("SELECT count(*) FROM events WHERE note LIKE 'before init%'") == "1000")
        #expect(try restored.sql("SELECT count(*) FROM events WHERE note LIKE 'after backup%'") == "500")
        #expect(try restored.sql("SELECT count(*) FROM events WHERE note LIKE 'after target%'") == "0")
    }

    /// At a terminal (`Tests/Terminal/converse.py` under a pseudo-terminal), init asks for what the
    /// flags leave out, with defaults: the data directory, the stores, encryption, the restart.
    @Test func atATerminalItAsksForWhatTheFlagsLeaveOut() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let cluster = try freshCluster(ws)
        defer { try? cluster.stop(mode: "immediate") }
        let config = ws.file("etc/walvault.toml")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Terminal/converse.py").path
        let conversation = [
            ("Data directory", cluster.pgdata), ("Store (", "local:\(store)"), ("Another store, off-site", ""),
            ("Encrypt everything stored", ""), ("Restart PostgreSQL now", "y")
        ]
        let result = try run(
            "/usr/bin/env",
            ["python3", script] + conversation.flatMap { ["--prompt", $0.0, "--answer", $0.1] }
                + ["--", ws.walvault, "init", "--config", config, "--spool", ws.file("spool")])
        let outcome = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stderr)")
        let output = outcome["output"] as? String ?? ""
        #expect(outcome["answered"] as? Int == conversation.count, "\(output)")
        #expect(outcome["status"] as? Int == 0, "\(output)")
        #expect(output.contains("the passphrase is in \(ws.file("etc/passphrase"))"), "encryption is the default: \(output)")
        #expect(output.contains("restarting PostgreSQL for archive_mode"), "\(output)")
        #expect(output.contains("archiving works, but nothing is restorable until a base backup exists"), "\(output)")
        #expect(try cluster.sql("SHOW archive_mode") == "on")
    }

    /// A Telegram store is proven through the chat (the Bot API stand-in): a document sent, read
    /// back and deleted; the bot's token goes in a 0600 file and nowhere else.
    @Test func aTelegramStoreIsProbedThroughTheChat() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let cluster = try freshCluster(ws)
        defer { try? cluster.stop(mode: "immediate") }
        let standIn = try TelegramStandIn(token: "424242:TOKENMARKER-\(UUID().uuidString.prefix(8))")
        let config = ws.file("etc/walvault.toml")
        var environment = ProcessInfo.processInfo.environment
        environment["WALVAULT_TELEGRAM_BOT_TOKEN"] = standIn.token
        let result = try run(
            ws.walvault,
            [
                "init", "--config", config, "--pgdata", cluster.pgdata, "--store", "local:\(store)",
                "--store", "telegram:\(standIn.chatID)?api_base=\(standIn.apiBase)", "--yes", "--restart", "--spool", ws.file("spool")
            ], environment: environment)
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("store \"telegram\": wrote, read back and deleted a probe"), "\(result.stdout)")
        #expect((standIn.stats()["documents"] ?? 0) >= 1, "the probe went to the chat: \(standIn.stats())")
        // The stand-in's chat is no forum: init says expire cannot delete from it, and how to fix that.
        #expect(
            result.stderr.contains("expire cannot delete anything older than 48 hours from this chat")
                && result.stderr.contains("Topics are off") && result.stderr.contains("forum_topics = true"), "\(result.stderr)")
        let configText = try String(contentsOfFile: config, encoding: .utf8)
        #expect(configText.contains("bot_token_file = \"\(ws.file("etc/telegram-bot-token"))\""))
        #expect(configText.contains("mode = \"async\""), "a chat is never waited for by PostgreSQL")
        for text in [configText, result.stdout, result.stderr] { #expect(!text.contains("TOKENMARKER"), "the token leaked") }
        let attributes = try FileManager.default.attributesOfItem(atPath: ws.file("etc/telegram-bot-token"))
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        // A chat alone cannot be the first store: archive-push would wait on Telegram's pace.
        let alone = try run(
            ws.walvault,
            [
                "init", "--config", ws.file("other.toml"), "--pgdata", cluster.pgdata, "--store", "telegram:\(standIn.chatID)", "--yes",
                "--spool", ws.file("spool")
            ], environment: environment)
        #expect(alone.status == 1 && alone.stderr.contains("a Telegram chat cannot be the first store"), "\(alone.stderr)")
    }

    /// Killed at whatever moment, init leaves nothing half-done that a second run does not finish.
    @Test func anInitKilledAnywhereIsFinishedByRunningItAgain() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let cluster = try freshCluster(ws)
        defer { try? cluster.stop(mode: "immediate") }
        let config = ws.file("etc/walvault.toml")
        let arguments = [
            "init", "--config", config, "--pgdata", cluster.pgdata, "--store", "local:\(store)", "--encrypt", "--yes", "--restart", "--backup",
            "--spool", ws.file("spool")
        ]
        // Without --restart, init says exactly what to run, and stops before claiming anything.
        let withoutRestart = try ws.walvault(arguments.filter { $0 != "--restart" })
        #expect(withoutRestart.status == 1, "\(withoutRestart.stdout)")
        #expect(
            withoutRestart.stderr.contains(
                "walvault init: error: archive_mode takes effect only when PostgreSQL restarts, so nothing is archived yet; run "),
            "\(withoutRestart.stderr)")
        #expect(withoutRestart.stderr.contains("pg_ctl -D \(cluster.pgdata) -l "), "\(withoutRestart.stderr)")
        #expect(!withoutRestart.stdout.contains("protected"))
        for delay: useconds_t in [20_000, 150_000, 400_000, 900_000] {
            let pid = try spawn(ws.walvault, arguments)
            usleep(delay)
            kill(pid, SIGKILL)
            _ = waitFor(pid)
            // A restart pg_ctl had begun goes on without init; a server it left stopped is started
            // again, as its owner would.
            let ready = { (try? run(Fixture.postgresBin + "/pg_isready", ["-q", "-h", ws.path, "-p", "\(cluster.port)"]))?.status == 0 }
            for _ in 0..<200 where !ready() { usleep(50_000) }
            if !ready() { try restartStopped(cluster) }
        }
        let finish = try ws.walvault(arguments)
        #expect(finish.status == 0, "\(finish.stdout) \(finish.stderr)")
        #expect(finish.stdout.contains("walvault init: protected"))
        let again = try ws.walvault(arguments + ["--json"])
        #expect(again.status == 0, "\(again.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any]
        let steps = summary?["steps"] as? [String] ?? []
        #expect(steps.contains("\(config) unchanged") && steps.contains("archive settings unchanged"), "\(again.stdout)")
        #expect(summary?["protected"] as? Bool == true && summary?["restorable_from"] as? String != nil, "\(again.stdout)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: ws.file("etc")).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "what killed runs left is cleared: \(leftovers)")
        let check = try ws.walvault(["--config", config, "check"], asPostgres: true)
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")

        // An owner's edit makes the config differ: refused, then with --force replaced and kept as .bak.
        let edited = try String(contentsOfFile: config, encoding: .utf8) + "# the owner's note\n"
        try edited.write(toFile: config, atomically: true, encoding: .utf8)
        let refused = try ws.walvault(arguments)
        #expect(refused.status == 1 && refused.stderr.contains("exists and differs"), "\(refused.stderr)")
        let forced = try ws.walvault(arguments + ["--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout.contains("replaced \(config); the old one is \(config).bak"), "\(forced.stdout)")
        #expect(try String(contentsOfFile: config + ".bak", encoding: .utf8) == edited)
        #expect(try !String(contentsOfFile: config, encoding: .utf8).contains("the owner's note"))
    }

    /// A kill during pg_ctl restart can leave the server stopped: started again as its owner would.
    private func restartStopped(_ cluster: PostgresCluster) throws {
        let result = try run(
            Fixture.postgresBin + "/pg_ctl", ["-D", cluster.pgdata, "-l", cluster.pgdata + ".log", "-w", "-t", "120", "start"], asPostgres: true)
        guard result.status == 0 else { throw TestFailure("pg_ctl start after a kill: \(result.stderr)") }
    }

    @Test func refusesWithOneClearLineEachAndWritesNothing() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let config = ws.file("etc/walvault.toml")
        func initWith(_ pgdata: String, store spec: String, extra: [String] = []) throws -> ProcessResult {
            try ws.walvault(["init", "--config", config, "--pgdata", pgdata, "--store", spec, "--yes", "--spool", ws.file("spool")] + extra)
        }
        func expectRefusal(_ result: ProcessResult, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(result.status == 1, "\(result.stdout) \(result.stderr)", sourceLocation: sourceLocation)
            #expect(lines(result.stderr).count == 1, "one line: \(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stderr.hasPrefix("walvault init: error: "), "\(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stderr.contains(text), "\(result.stderr)", sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: config), "nothing written", sourceLocation: sourceLocation)
        }

        expectRefusal(try initWith(try ws.mkdir("empty"), store: "local:\(store)"), "is not a PostgreSQL data directory")
        let old = try ws.mkdir("old/global")
        _ = try ws.write("old/PG_VERSION", "14\n")
        _ = try ws.write("old/global/pg_control", String(repeating: "\0", count: 8192))
        expectRefusal(try initWith(ws.file("old"), store: "local:\(store)"), "is a PostgreSQL 14 cluster; walvault supports PostgreSQL 15")
        _ = old

        let cluster = PostgresCluster(workspace: ws)
        try cluster.initdb(settings: [:])
        try ws.giveToPostgres()
        expectRefusal(try initWith(cluster.pgdata, store: "local:\(store)"), "PostgreSQL is not running on \(cluster.pgdata)")
        try cluster.start()
        defer { try? cluster.stop(mode: "immediate") }

        if getuid() == 0 {
            // Another user than root or the cluster's owner cannot act as the owner.
            let asNobody = try run(
                "/usr/sbin/runuser",
                ["-u", "nobody", "--", ws.walvault, "init", "--config", config, "--pgdata", cluster.pgdata, "--store", "local:\(store)", "--yes"])
            expectRefusal(asNobody, "init runs as nobody, but \(cluster.pgdata) belongs to postgres; run it as root")
        }
        expectRefusal(try initWith(cluster.pgdata, store: "local:\(ws.file("nowhere"))"), "local store \(ws.file("nowhere")) does not exist")
        let inside = cluster.pgdata + "/backups"
        try FileManager.default.createDirectory(atPath: inside, withIntermediateDirectories: true)
        expectRefusal(try initWith(cluster.pgdata, store: "local:\(inside)"), "is inside the data directory")
        try FileManager.default.removeItem(atPath: inside)
        expectRefusal(try initWith(cluster.pgdata, store: "ftp://example.com"), "--store ftp://example.com: not a store")
        expectRefusal(try initWith(cluster.pgdata, store: "s3://bucket-name/x"), "no region")

        // Another tool's archive_command is not replaced without --force.
        try cluster.sql("ALTER SYSTEM SET archive_command = '/usr/bin/true other-tool %p'")
        try cluster.sql("SELECT pg_reload_conf()")
        expectRefusal(try initWith(cluster.pgdata, store: "local:\(store)"), "archive_command already runs '/usr/bin/true other-tool %p'")
        try cluster.sql("ALTER SYSTEM RESET archive_command")
        try cluster.sql("SELECT pg_reload_conf()")

        // An existing config that differs is kept unless --force, and then kept as .bak.
        try? FileManager.default.removeItem(atPath: config)
        let mine = try ws.write("etc/walvault.toml", "[cluster]\nname = \"mine\"\n")
        let refused = try initWith(cluster.pgdata, store: "local:\(store)")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("\(config) exists and differs from the config init would write; pass --force"), "\(refused.stderr)")
        #expect(try String(contentsOfFile: mine, encoding: .utf8) == "[cluster]\nname = \"mine\"\n")
        try FileManager.default.removeItem(atPath: config)

        if !FileManager.default.fileExists(atPath: "/run/systemd/system") {
            expectRefusal(
                try initWith(cluster.pgdata, store: "local:\(store)", extra: ["--schedule", "systemd"]),
                "--schedule systemd, but systemd is not running on this machine; use --schedule cron")
        }

        // A running standby.
        try cluster.stop()
        FileManager.default.createFile(atPath: cluster.pgdata + "/standby.signal", contents: Data())
        try ws.giveToPostgres()
        try cluster.start()
        expectRefusal(try initWith(cluster.pgdata, store: "local:\(store)"), "\(cluster.pgdata) is a running standby")
    }
}
