import Foundation
import Testing
import WalvaultTesting

/// A local sync store and a Telegram chat (the Bot API stand-in, enforcing the documented
/// limits) shipped to in the background, against real PostgreSQL 15; restored on "a new
/// machine" that has only the bot token, the chat and the passphrase.
@Suite(.serialized) struct TelegramOffsiteTests {
    struct Rig {
        let ws: Workspace
        let store: String
        let spool: String
        let config: String
        let newMachineConfig: String
        let cluster: PostgresCluster
        let standIn: TelegramStandIn
        /// A copy of every document the chat received.
        let keep: String
        let passphrase = "telegram passphrase " + UUID().uuidString

        /// - Parameters:
        ///   - forumTopics: the chat is a forum supergroup, and the store sets forum_topics = true.
        ///   - retentionDays: a [retention] section on the first machine.
        init(
            partSizeMB: Int = 19, messagesPerMinute: Int = 600, serverRate: Int = 600, serverWindow: Int = 60, forumTopics: Bool = false,
            retentionDays: Int? = nil
        ) throws {
            ws = try Workspace()
            standIn = try TelegramStandIn(token: "424242:TOKENMARKER-\(UUID().uuidString.prefix(8))")
            keep = try ws.mkdir("chat-documents")
            try standIn.set(["rate": serverRate, "window": serverWindow, "keep_dir": keep, "forum": forumTopics])
            store = try ws.mkdir("store")
            spool = try ws.mkdir("spool")
            let tokenFile = try ws.write("bot-token", standIn.token + "\n")
            let passphraseFile = try ws.write("passphrase", passphrase + "\n")
            let cacheParent = try ws.mkdir("keycache")
            chmod(cacheParent, 0o1777)
            let pgdata = ws.file("pgdata")
            let telegram = """
                [[stores]]
                name = "telegram"
                type = "telegram"
                mode = "async"
                api_base = "\(standIn.apiBase)"
                bot_token_file = "\(tokenFile)"
                chat_id = "\(standIn.chatID)"
                part_size_mb = \(partSizeMB)
                messages_per_minute = \(messagesPerMinute)
                forum_topics = \(forumTopics)

                """
            let encryption = "[encryption]\npassphrase_file = \"\(passphraseFile)\"\nkey_cache = \"\(cacheParent)\"\n"
            config = try ws.config(
                stores: [store],
                extra: """
                    pgdata = "\(pgdata)"
                    conninfo = "host=\(ws.path) port=PORT user=postgres dbname=postgres"
                    spool = "\(spool)"
                    \(encryption)
                    \(retentionDays.map { "[retention]\ndays = \($0)\n" } ?? "")
                    """, storeSections: "[[stores]]\nname = \"local\"\ntype = \"local\"\npath = \"\(store)\"\n\n" + telegram)
            // The new machine: an empty spool, and only the chat.
            let newSpool = try ws.mkdir("new-machine-spool")
            newMachineConfig = try ws.write(
                "new-machine.toml",
                """
                [cluster]
                name = "main"
                spool = "\(newSpool)"
                \(encryption)
                \(telegram)
                """)
            cluster = PostgresCluster(workspace: ws, name: "pgdata")
            try cluster.initdb(settings: [
                "wal_level": "replica", "archive_mode": "on", "archive_timeout": "60",
                "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
            ])
            try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "PORT", with: "\(cluster.port)")
                .write(toFile: config, atomically: true, encoding: .utf8)
            try ws.giveToPostgres()
            for secret in ["passphrase", "bot-token", "walvault.toml", "new-machine.toml"] { chmod(ws.file(secret), 0o600) }
        }

        func walvault(_ arguments: [String], config: String? = nil) throws -> ProcessResult {
            try ws.walvault(["--config", config ?? self.config] + arguments, asPostgres: true)
        }

        func queued() throws -> Int {
            let info = try walvault(["info", "--json"])
            guard info.status == 0, let json = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any],
                let stores = json["stores"] as? [[String: Any]], let telegram = stores.first(where: { $0["name"] as? String == "telegram" })
            else {
                throw TestFailure("info failed: \(info.stderr)")
            }
            return telegram["queuedObjects"] as? Int ?? -1
        }

        /// Until the queue is empty and no shipper holds the lock (its last flush is done).
        func waitUntilShipped(seconds: Int = 300) throws {
            for _ in 0..<(seconds * 2) {
                if try queued() == 0 {
                    let ship = try walvault(["ship", "--verbose"])
                    if try ship.status == 0 && !ship.stderr.contains("another") && queued() == 0 { return }
                }
                usleep(500_000)
            }
            throw TestFailure(
                "the queue did not drain; ship.log: \((try? String(contentsOfFile: spool + "/ship.log", encoding: .utf8))?.suffix(2000) ?? "")")
        }

        func archiveNow(_ cluster: PostgresCluster) throws {
            let file = try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
            let stats = try cluster.waitForArchive(of: file)
            #expect(stats.failed == 0)
        }

        /// The WAL segments (names) in the local store.
        func localSegments() -> Set<String> {
            Set(
                filesRecursively(store + "/main/wal").compactMap { path -> String? in
                    let name = (path as NSString).lastPathComponent
                    guard !name.hasPrefix("."), name.count > 25, name.dropFirst(24).hasPrefix("-") else { return nil }
                    return String(name.prefix(24))
                })
        }

        /// The WAL runs and gaps that `info --json` on the new machine sees in the chat.
        func telegramWAL() throws -> (segments: Int, runs: [[String: Any]], gaps: [String]) {
            let info = try walvault(["info", "--json"], config: newMachineConfig)
            guard info.status == 0, let json = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any],
                let runs = json["wal"] as? [[String: Any]]
            else { throw TestFailure("info on the new machine failed: \(info.stderr)") }
            return (runs.reduce(0) { $0 + ($1["segments"] as? Int ?? 0) }, runs, json["gaps"] as? [String] ?? [])
        }
    }

    /// Issue 28: an incremental ships only its own new parts, so the chat gets a handful of
    /// documents for a quiet night where a full sends the whole database again.
    @Test func aQuietIncrementalIsAHandfulOfDocumentsInTheChat() throws {
        let rig = try Rig(partSizeMB: 1)
        let cluster = rig.cluster
        try cluster.start()
        defer { try? cluster.stop(mode: "immediate") }
        // About 30 MB of rows that compress about 2:1: a full is a dozen documents of 1 MB or more.
        try cluster.sql("CREATE TABLE notes (id int PRIMARY KEY, body text)")
        try cluster.sql(
            "INSERT INTO notes SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) FROM generate_series(1, 200000) g")
        try cluster.sql("CHECKPOINT")
        try rig.archiveNow(cluster)
        try rig.waitUntilShipped()

        func shipped(_ arguments: [String]) throws -> (documents: Int, bytes: Int, stdout: String) {
            let before = rig.standIn.stats()
            let backup = try rig.walvault(arguments)
            #expect(backup.status == 0, "\(backup.stderr)")
            try rig.waitUntilShipped()
            let after = rig.standIn.stats()
            return (
                (after["documents"] ?? 0) - (before["documents"] ?? 0), (after["document_bytes"] ?? 0) - (before["document_bytes"] ?? 0),
                backup.stdout
            )
        }
        let full = try shipped(["backup", "--type", "full", "--json"])
        // A quiet night: one row changed.
        try cluster.sql("UPDATE notes SET body = 'changed' WHERE id = 100000")
        try cluster.sql("CHECKPOINT")
        let incr = try shipped(["backup", "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(incr.stdout.utf8)) as? [String: Any], "\(incr.stdout)")
        #expect(json["type"] as? String == "incr", "\(incr.stdout)")
        // The full's documents also carry the WAL of its start and stop and a catalog, as the
        // incremental's do: what differs is the database's bytes.
        #expect(full.documents >= 12, "full: \(full)")
        #expect(incr.documents <= 6, "incremental: \(incr.documents) documents, \(incr.bytes) bytes; full: \(full.documents), \(full.bytes)")
        #expect(incr.bytes * 10 < full.bytes, "incremental: \(incr.bytes) bytes; full: \(full.bytes)")
    }

    @Test(arguments: [19, 1])
    func restoreToATimeAndAcrossATimelineFromTheChatAlone(partSizeMB: Int) throws {
        let rig = try Rig(partSizeMB: partSizeMB)
        let cluster = rig.cluster
        try cluster.start()
        let marker = "walvault-marker-" + UUID().uuidString
        try cluster.sql("CREATE TABLE events (id serial PRIMARY KEY, note text)")
        try cluster.sql("INSERT INTO events (note) SELECT 'before backup ' || g FROM generate_series(1, 20000) g")
        try cluster.sql("CREATE TABLE secrets (note text)")
        try cluster.sql("INSERT INTO secrets VALUES ('\(marker)')")
        let backup = try rig.walvault(["backup"])
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(!backup.stderr.contains("unencrypted"))
        try cluster.sql("INSERT INTO events (note) SELECT 'after backup ' || g FROM generate_series(1, 500) g")
        try rig.archiveNow(cluster)
        usleep(1_100_000)
        let target = try cluster.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
        usleep(1_100_000)
        try cluster.sql("INSERT INTO events (note) SELECT 'after target ' || g FROM generate_series(1, 300) g")
        try rig.archiveNow(cluster)
        try rig.waitUntilShipped()
        try cluster.stop(mode: "immediate")

        // Every document (objects, bundles, pieces and catalogs) is ciphertext: the marker, the
        // passphrase and even the object names are nowhere in the chat.
        let documents = filesRecursively(rig.keep).map { rig.keep + "/" + $0 }
        #expect(documents.count > 2)
        for document in documents {
            // A document begins with an object unless it continues one cut at part_size_mb.
            if partSizeMB == 19 { #expect(fileStarts(document, with: "WALVAULT"), "\(document) is not encrypted") }
            #expect(!fileContains(document, "\"k\":"), "\(document) holds a catalog in the clear")
            #expect(!fileContains(document, marker))
            #expect(!fileContains(document, rig.passphrase))
            #expect(!fileContains(document, "000000010000000000000001"))
        }

        // The new machine: only the config with the chat; the old data directory is gone.
        try FileManager.default.removeItem(atPath: rig.ws.file("pgdata"))
        let newData = rig.ws.file("restored")
        let info = try rig.walvault(["info"], config: rig.newMachineConfig)
        #expect(info.status == 0, "\(info.stderr)")
        #expect(info.stdout.contains("  backup 2026"), "\(info.stdout)")
        let restore = try rig.walvault(["restore", "--pgdata", newData, "--target-time", target], config: rig.newMachineConfig)
        #expect(restore.status == 0, "\(restore.stdout) \(restore.stderr)")
        let restored = PostgresCluster(workspace: rig.ws, pgdata: newData, port: cluster.port)
        try restored.start()
        try restored.waitForPromotion()
        #expect(try restored.sql("SELECT count(*) FROM events WHERE note LIKE 'before backup%'") == "20000")
        #expect(try restored.sql("SELECT count(*) FROM events WHERE note LIKE 'after backup%'") == "500")
        #expect(try restored.sql("SELECT count(*) FROM events WHERE note LIKE 'after target%'") == "0")
        #expect(try restored.sql("SELECT count(*) FROM secrets WHERE note = '\(marker)'") == "1")
        #expect(try restored.sql("SELECT timeline_id FROM pg_control_checkpoint()") == "2")

        // Timeline 2 is archived by the restored server (its archive_command names the first
        // machine's config), shipped to the chat, and restored to its end from the chat again.
        try restored.sql("INSERT INTO events (note) SELECT 'timeline two ' || g FROM generate_series(1, 42) g")
        try rig.archiveNow(restored)
        try rig.waitUntilShipped()
        try restored.stop(mode: "immediate")
        let again = try rig.walvault(["restore", "--pgdata", newData, "--target", "latest", "--force"], config: rig.newMachineConfig)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("timelines: 1 -> 2"), "\(again.stdout)")
        try restored.start()
        try restored.waitForPromotion()
        #expect(try restored.sql("SELECT count(*) FROM events WHERE note LIKE 'timeline two%'") == "42")
        try restored.stop()

        // Nothing secret in anything walvault printed or the server logged.
        let shipLog = (try? String(contentsOfFile: rig.spool + "/ship.log", encoding: .utf8)) ?? ""
        for text in [
            backup.stdout, backup.stderr, info.stdout, info.stderr, restore.stdout, restore.stderr, again.stdout, again.stderr, shipLog,
            (try? String(contentsOfFile: rig.ws.file("pgdata") + ".log", encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: newData + ".log", encoding: .utf8)) ?? ""
        ] {
            #expect(!text.contains("TOKENMARKER"))
            #expect(!text.contains(rig.passphrase))
        }
        // The archive-push in the restored server's log, and every other walvault line, named no token either.
        #expect(!fileContains(newData + ".log", "TOKENMARKER"))
    }

    /// pgbench for a minute with the chat's limit far below walvault's pace, so that 429s are served:
    /// archiving never fails, the backlog drains afterwards, and every segment is in the chat.
    @Test func aBusyServerStaysInsideTheRateLimitAndLosesNothing() throws {
        // One message per 5 s in the chat, walvault pacing at 30 a minute: every flush's second
        // message (the catalog after the document) meets a 429, however fast WAL comes.
        let rig = try Rig(partSizeMB: 19, messagesPerMinute: 30, serverRate: 1, serverWindow: 5)
        let cluster = rig.cluster
        try cluster.start()
        let initialize = try run(
            "/usr/lib/postgresql/15/bin/pgbench", ["-i", "-s", "10", "-h", rig.ws.path, "-p", "\(cluster.port)", "-U", "postgres", "postgres"],
            asPostgres: true)
        #expect(initialize.status == 0, "\(initialize.stderr)")
        let started = Date()
        let bench = try run(
            "/usr/lib/postgresql/15/bin/pgbench", ["-c", "2", "-T", "60", "-h", rig.ws.path, "-p", "\(cluster.port)", "-U", "postgres", "postgres"],
            asPostgres: true)
        #expect(bench.status == 0, "\(bench.stderr)")
        try rig.archiveNow(cluster)
        #expect(try cluster.sql("SELECT failed_count FROM pg_stat_archiver") == "0")
        // A clean stop archives whatever is still .ready; then the backlog must drain.
        try cluster.stop()
        let drainStarted = Date()
        try rig.waitUntilShipped(seconds: 600)
        let drained = Date()
        let segments = rig.localSegments()
        let inChat = try rig.telegramWAL()
        let stats = rig.standIn.stats()
        #expect(inChat.gaps.isEmpty, "\(inChat.gaps)")
        #expect(
            inChat.segments == segments.count,
            "\(inChat.runs) \((try? String(contentsOfFile: rig.spool + "/ship.log", encoding: .utf8))?.suffix(3000) ?? "")")
        #expect((inChat.runs.first?["first"] as? String) == segments.min())
        #expect((inChat.runs.last?["last"] as? String) == segments.max())
        #expect(stats["served_429", default: 0] > 0, "the limit was hit")
        // For the closing note.
        let line =
            "telegram-pgbench: segments=\(segments.count) documents=\(stats["documents", default: 0]) served_429=\(stats["served_429", default: 0]) "
            + "retry_after_total_s=\(stats["retry_after_total", default: 0]) bench_s=\(Int(drainStarted.timeIntervalSince(started))) drain_s=\(Int(drained.timeIntervalSince(drainStarted)))\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
