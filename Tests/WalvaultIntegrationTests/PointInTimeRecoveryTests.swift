import Foundation
import Testing
import WalvaultTesting

/// Where the PITR test keeps everything: a local directory, or an S3 bucket (moto, signatures
/// checked) as the only store, as on a new machine that has nothing but the config.
enum StoreUnderTest: String, CustomTestStringConvertible, Sendable {
    case local, s3
    var testDescription: String { rawValue }
}

/// The whole job, end to end against real PostgreSQL 15: archive, back up, lose the server,
/// restore to a moment, and check exactly what came back.
@Suite struct PointInTimeRecoveryTests {
    func archivingCluster(_ ws: Workspace, config: String, name: String = "pgdata") throws -> PostgresCluster {
        let cluster = PostgresCluster(workspace: ws, name: name)
        try cluster.initdb(settings: [
            "wal_level": "replica",
            "archive_mode": "on",
            "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'",
            "archive_timeout": "60"
        ])
        return cluster
    }

    func walvault(_ ws: Workspace, _ arguments: [String]) throws -> ProcessResult {
        try ws.walvault(arguments, asPostgres: true)
    }

    /// Switches WAL and waits until the segment just completed is in the store.
    func archiveNow(_ cluster: PostgresCluster) throws {
        let file = try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
        let stats = try cluster.waitForArchive(of: file)
        #expect(stats.failed == 0)
    }

    @Test(arguments: [(StoreUnderTest.local, false), (.local, true), (.s3, true)])
    func restoreToATimeThenToLatestOnTheNewTimeline(storeKind: StoreUnderTest, encrypted: Bool) throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        var storeSection: String?
        if storeKind == .s3 {
            let server = try S3TestServer.get()
            let keyFile = try ws.write("s3-key-id", server.accessKeyID + "\n")
            let secretFile = try ws.write("s3-secret", server.secretAccessKey + "\n")
            storeSection = """
                \(server.storeSection(prefix: "pitr-\(UUID().uuidString.prefix(8).lowercased())", keyFile: keyFile, secretFile: secretFile))

                """
        }
        let tablespaceDir = try ws.mkdir("tablespace")
        let pgdata = ws.file("pgdata")
        let passphrase = "pitr passphrase " + UUID().uuidString
        var encryption = ""
        if encrypted {
            let passphraseFile = try ws.write("passphrase", passphrase + "\n")
            // One key cache per test, which both root and postgres can make their own directory in.
            let cacheParent = try ws.mkdir("keycache")
            chmod(cacheParent, 0o1777)
            encryption = "[encryption]\npassphrase_file = \"\(passphraseFile)\"\nkey_cache = \"\(cacheParent)\"\n"
        }
        // With a spool, archive-get prefetches ahead (issue 16): the encrypted runs restore through
        // the look-ahead, across the timeline switch, from the local store and from S3.
        let spool = encrypted ? "spool = \"\(try ws.mkdir("spool"))\"\n" : ""
        let config = try ws.config(
            stores: [store],
            extra: "pgdata = \"\(pgdata)\"\nconninfo = \"host=\(ws.path) port=PORT user=postgres dbname=postgres\"\n" + spool + encryption,
            storeSections: storeSection)
        let cluster = try archivingCluster(ws, config: config)
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "PORT", with: "\(cluster.port)")
            .write(toFile: config, atomically: true, encoding: .utf8)
        try ws.giveToPostgres()
        chmod(config, 0o600)
        for secret in ["passphrase", "s3-key-id", "s3-secret"] { chmod(ws.file(secret), 0o600) }
        try cluster.start()
        // A value that must never be readable in the store: in the base backup and in the WAL.
        let marker = "walvault-marker-" + UUID().uuidString

        try cluster.sql("CREATE TABLESPACE extra LOCATION '\(tablespaceDir)'")
        try cluster.sql("CREATE TABLE accounts (id int PRIMARY KEY, balance int) TABLESPACE extra")
        try cluster.sql("INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 5000) g")
        try cluster.sql("CREATE TABLE events (id serial PRIMARY KEY, note text)")
        try cluster.sql("INSERT INTO events (note) SELECT 'before backup ' || g FROM generate_series(1, 1000) g")
        try cluster.sql("CREATE TABLE secrets (note text)")
        try cluster.sql("INSERT INTO secrets VALUES ('\(marker) in the base backup')")
        try cluster.sql("CHECKPOINT")

        let backup = try walvault(ws, ["--config", config, "backup"])
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(backup.stdout.contains("complete"))
        #expect(backup.stderr.isEmpty, "no warnings: \(backup.stderr)")
        if storeKind == .s3 { #expect(filesRecursively(store).isEmpty, "the local directory is not a store here") }

        try cluster.sql("INSERT INTO events (note) SELECT 'after backup ' || g FROM generate_series(1, 500) g")
        try cluster.sql("INSERT INTO secrets VALUES ('\(marker) in the WAL')")
        try cluster.sql("UPDATE accounts SET balance = 200 WHERE id <= 10")
        try archiveNow(cluster)
        let lastChange = try cluster.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
        try cluster.waitForClock(pastBy: 1.1, lastChange)
        let target = try cluster.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
        try cluster.waitForClock(pastBy: 1.1, target)
        try cluster.sql("INSERT INTO events (note) SELECT 'after target ' || g FROM generate_series(1, 300) g")
        try cluster.sql("DROP TABLE accounts")
        try archiveNow(cluster)
        try cluster.stop(mode: "immediate")
        try FileManager.default.removeItem(atPath: pgdata)
        try FileManager.default.removeItem(atPath: tablespaceDir)

        // A target before the oldest backup, and one after the archive's end, are refused clearly.
        let tooEarly = try walvault(ws, ["--config", config, "restore", "--pgdata", pgdata, "--target-time", "2001-01-01 00:00:00+00"])
        #expect(tooEarly.status == 1)
        #expect(tooEarly.stderr.contains("no backup finished before the target"))
        let future = try walvault(ws, ["--config", config, "restore", "--pgdata", pgdata, "--target-time", "2099-01-01 00:00:00+00"])
        #expect(future.status == 1)
        #expect(future.stderr.contains("--target latest"))
        #expect(!FileManager.default.fileExists(atPath: pgdata + "/global/pg_control"))

        // Emulate a copy of the store made without keeping times (cp -r, rsync without -t, a bucket
        // copy): every object gets one identical modification time. Restore must not care.
        let copiedAt = Date(timeIntervalSince1970: 978_307_200)
        for object in filesRecursively(store) {
            try FileManager.default.setAttributes([.modificationDate: copiedAt], ofItemAtPath: store + "/" + object)
        }

        // As docs/restore.md says: into a new directory, with the same config, whose [cluster] pgdata
        // still names the old one (deleted above). The restored server must archive all the same.
        let newData = ws.file("restored")
        let dry = try walvault(ws, ["--config", config, "restore", "--pgdata", newData, "--target-time", target, "--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("nothing was written"))
        #expect(dry.stdout.contains("--pgdata \(newData): does not exist, will be created"))
        #expect(!FileManager.default.fileExists(atPath: newData))

        let restore = try walvault(ws, ["--config", config, "restore", "--pgdata", newData, "--target-time", target])
        #expect(restore.status == 0, "\(restore.stdout) \(restore.stderr)")
        let restored = PostgresCluster(workspace: ws, pgdata: newData, port: cluster.port)
        try restored.start()
        try restored.waitForPromotion()
        #expect(try restored.sql("SELECT count(*) FROM events WHERE note LIKE 'before backup%'") == "1000")
        #expect(try restored.sql("SELECT count(*) FROM events WHERE note LIKE 'after backup%'") == "500")
        #expect(try restored.sql("SELECT count(*) FROM events WHERE note LIKE 'after target%'") == "0")
        #expect(try restored.sql("SELECT count(*), sum(balance) FROM accounts") == "5000|501000")
        #expect(try restored.sql("SELECT timeline_id FROM pg_control_checkpoint()") == "2")
        #expect(try restored.sql("SELECT count(*) FROM secrets WHERE note LIKE '\(marker)%'") == "2")

        // Write on timeline 2, archive it (00000002.history first), and come back to the very end of it.
        try restored.sql("INSERT INTO events (note) SELECT 'timeline two ' || g FROM generate_series(1, 42) g")
        try archiveNow(restored)
        #expect(try restored.sql("SELECT failed_count FROM pg_stat_archiver") == "0")
        if storeKind == .local { #expect(filesRecursively(store + "/main/wal").contains { $0.hasPrefix("00000002.history-") }) }
        try restored.stop(mode: "immediate")
        let again = try walvault(ws, ["--config", config, "restore", "--pgdata", newData, "--target", "latest", "--force"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("timelines: 1 -> 2"))
        try restored.start()
        try restored.waitForPromotion()
        #expect(try restored.sql("SELECT count(*) FROM events WHERE note LIKE 'timeline two%'") == "42")
        #expect(try restored.sql("SELECT count(*) FROM accounts") == "5000")

        let info = try walvault(ws, ["--config", config, "info", "--json"])
        #expect(info.status == 0)
        #expect(info.stdout.contains("\"backups\""))
        try restored.stop()
        if storeKind == .s3 {
            // Nothing secret in what walvault printed, nor in the server's log.
            let server = try S3TestServer.get()
            for text in [
                backup.stdout, backup.stderr, restore.stdout, restore.stderr, again.stdout, info.stdout, dry.stdout,
                (try? String(contentsOfFile: pgdata + ".log", encoding: .utf8)) ?? "",
                (try? String(contentsOfFile: newData + ".log", encoding: .utf8)) ?? ""
            ] {
                #expect(!text.contains(server.secretAccessKey))
                #expect(!text.contains(server.accessKeyID))
                #expect(!text.contains(passphrase))
            }
            #expect(info.stdout.contains("s3://\(server.bucket)/pitr-"))
            return
        }
        guard encrypted else { return }

        // The marker is in the restored cluster's files in the clear (so this search can find it)...
        let restoredFiles =
            filesRecursively(newData + "/base").map { newData + "/base/" + $0 }
            + filesRecursively(newData + "/pg_wal").map { newData + "/pg_wal/" + $0 }
        #expect(restoredFiles.contains { fileContains($0, marker) })
        // ...and nowhere in the store, nor is the passphrase, in the store or the server's logs.
        let storeFiles = filesRecursively(store).map { store + "/" + $0 }
        #expect(storeFiles.count > 10)
        for file in storeFiles {
            #expect(!fileContains(file, marker), "\(file) holds the marker in the clear")
            #expect(!fileContains(file, passphrase), "\(file) holds the passphrase")
            #expect(fileStarts(file, with: "WALVAULT"), "\(file) is not encrypted")
        }
        #expect(FileManager.default.fileExists(atPath: newData + ".log"))
        #expect(!fileContains(newData + ".log", passphrase))
        #expect(!fileContains(pgdata + ".log", passphrase))

        // Manual recovery of one object: decrypt and decompress a WAL segment by hand.
        let object = try #require(storeFiles.first { $0.contains("/wal/00000001") && $0.hasSuffix(".zst") && !$0.contains(".history") })
        let plain = ws.file("decrypted-segment")
        let decrypted = try walvault(ws, ["--config", config, "decrypt", "--in", object, "--out", plain, "--verbose"])
        #expect(decrypted.status == 0, "\(decrypted.stderr)")
        #expect(decrypted.stderr.contains("16777216 bytes (zstd), sha256"))
        #expect(decrypted.stderr.contains("verified"))
        let piped = try run(
            "/bin/sh", ["-c", "'\(ws.walvault)' --config '\(config)' decrypt --compression zstd < '\(object)' | sha256sum"], asPostgres: true)
        #expect(piped.stdout.hasPrefix(String(object.split(separator: "-").last!.prefix(64))), "\(piped.stderr)")
    }

    @Test func restoreRefusesANonEmptyDirectory() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let config = try ws.config(stores: [store])
        _ = try ws.write("occupied/PG_VERSION", "15\n")
        let result = try ws.walvault(["--config", config, "restore", "--pgdata", ws.file("occupied"), "--target", "latest"])
        #expect(result.status == 1)
        // The store is empty, so the plan fails first: the directory is never touched either way.
        #expect(FileManager.default.fileExists(atPath: ws.file("occupied/PG_VERSION")))
    }

    /// A store, a cluster not yet initialised, and a config whose pgdata and conninfo name it.
    func backupSetup(_ ws: Workspace) throws -> (store: String, cluster: PostgresCluster, config: String) {
        let store = try ws.mkdir("store")
        let cluster = PostgresCluster(workspace: ws)
        let config = try ws.config(
            stores: [store],
            extra: "pgdata = \"\(cluster.pgdata)\"\nconninfo = \"host=\(ws.path) port=\(cluster.port) user=postgres dbname=postgres\"")
        return (store, cluster, config)
    }

    @Test func backupRefusesWhenArchivingIsOff() throws {
        let ws = try Workspace()
        let (_, cluster, config) = try backupSetup(ws)
        try cluster.initdb(settings: [:])
        try ws.giveToPostgres()
        try cluster.start()
        let result = try ws.walvault(["--config", config, "backup"], asPostgres: true)
        #expect(result.status == 1)
        #expect(result.stderr.contains("WAL archiving is not configured"))
        #expect(result.stderr.split(separator: "\n").count == 1)
        try cluster.stop()
    }

    @Test func backupFailsClearlyWhenArchivingIsBroken() throws {
        let ws = try Workspace()
        let (store, cluster, config) = try backupSetup(ws)
        // archive_command is walvault with this config, but the archiver cannot write the store:
        // the backup starts, copies, and then its WAL never arrives.
        try cluster.initdb(settings: ["archive_mode": "on", "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"])
        try ws.giveToPostgres()
        if getuid() == 0 {
            try run("/bin/chown", ["root:", store])
            chmod(store, 0o700)
            // Root runs this backup: its config is root's, as /etc/walvault's is (a config another
            // user could rewrite is warned about since issue 24), readable by the archiver.
            try run("/bin/chown", ["root:", config])
            chmod(config, 0o644)
        } else {
            chmod(store, 0o500)
        }
        try cluster.start()
        let result = try ws.walvault(["--config", config, "backup", "--wal-timeout", "3"], asPostgres: false)
        #expect(result.status == 1)
        #expect(result.stderr.contains("is unusable"))
        #expect(result.stderr.contains("was not archived within 3 s"))
        #expect(result.stderr.split(separator: "\n").count == 1)
        // A failed backup takes back the parts it wrote: nothing is left for info to list forever.
        #expect(result.stderr.contains("the parts it wrote were removed"), "\(result.stderr)")
        let info = try ws.walvault(["--config", config, "info"], asPostgres: false)
        #expect(info.stdout.contains("no complete backup"))
        #expect(!info.stdout.contains("incomplete backup"), "\(info.stdout)")
        #expect(filesRecursively(store + "/main/backup").isEmpty)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: store + "/main/backup")) ?? [] == [])
        try cluster.stop(mode: "immediate")
    }

    /// archive_command that is not walvault with this config: refused before anything is copied,
    /// instead of copying everything and then waiting out --wal-timeout.
    @Test func backupRefusesAnArchiveCommandThatDoesNotReachItsStores() throws {
        let ws = try Workspace()
        let (store, cluster, config) = try backupSetup(ws)
        try cluster.initdb(settings: ["archive_mode": "on", "archive_command": "'/bin/true'"])
        try ws.giveToPostgres()
        try cluster.start()
        try cluster.sql("SELECT pg_switch_wal()")
        let result = try ws.walvault(["--config", config, "backup", "--wal-timeout", "600"], asPostgres: true)
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("archive_command is '/bin/true', which does not run walvault archive-push"), "\(result.stderr)")
        #expect(result.stderr.contains("nothing was copied"))
        #expect(filesRecursively(store).isEmpty, "nothing may be copied: \(filesRecursively(store))")

        // walvault, but with another config: its WAL goes to other stores.
        let other = try ws.write("other.toml", "[cluster]\nname = \"main\"\n[[stores]]\nname = \"x\"\ntype = \"local\"\npath = \"\(ws.path)\"\n")
        try cluster.sql("ALTER SYSTEM SET archive_command = '\(ws.walvault) --config \(other) archive-push %p'")
        try cluster.sql("SELECT pg_reload_conf()")
        try cluster.waitForSetting("archive_command", "\(ws.walvault) --config \(other) archive-push %p")
        let second = try ws.walvault(["--config", config, "backup", "--wal-timeout", "600"], asPostgres: true)
        #expect(second.status == 1)
        #expect(second.stderr.contains("archive_command archives with --config \(other), but this backup runs with \(config)"), "\(second.stderr)")
        #expect(filesRecursively(store).isEmpty)
        try cluster.stop(mode: "immediate")
    }

    @Test func backupWithNoServerIsOneLine() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let config = try ws.config(
            stores: [store], extra: "pgdata = \"/nonexistent\"\nconninfo = \"host=\(ws.path) port=1 user=postgres dbname=postgres password=sekrit\"")
        let result = try ws.walvault(["--config", config, "backup"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot connect to the database"))
        #expect(!result.stderr.contains("sekrit"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }
}
