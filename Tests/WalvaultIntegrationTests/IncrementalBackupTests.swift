import Foundation
import Testing
import WalvaultTesting

/// Incremental base backups (issue 28) on a real PostgreSQL 15: what a chain stores, that it
/// restores byte for byte and to the row, across stores and encrypted, and how expire, verify,
/// info and a killed backup treat it.
@Suite struct IncrementalBackupTests {
    /// A cluster archiving through walvault into `stores` (or the store sections given), autovacuum
    /// off so that nothing but the test changes a page.
    final class Rig {
        let ws: Workspace
        let cluster: PostgresCluster
        let config: String
        let store: String

        init(checksums: Bool = false, extraConfig: String = "", storeSections: String? = nil) throws {
            ws = try Workspace()
            store = try ws.mkdir("store")
            cluster = PostgresCluster(workspace: ws)
            // A spool of its own, so the cluster lock is this test's alone.
            let spool = try ws.mkdir("spool")
            chmod(spool, 0o700)
            config = try ws.config(
                stores: [store],
                extra: "pgdata = \"\(cluster.pgdata)\"\nconninfo = \"host=\(ws.path) port=\(cluster.port) user=postgres dbname=postgres\"\n"
                    + "spool = \"\(spool)\"\n" + extraConfig, storeSections: storeSections)
            try cluster.initdb(
                settings: [
                    "wal_level": "replica", "archive_mode": "on", "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'",
                    "autovacuum": "off", "archive_timeout": "60"
                ], arguments: checksums ? ["--data-checksums"] : [])
            try ws.giveToPostgres()
            chmod(config, 0o600)
            try cluster.start()
        }

        @discardableResult
        func walvault(_ arguments: [String], expectSuccess: Bool = true) throws -> ProcessResult {
            let result = try ws.walvault(["--config", config] + arguments, asPostgres: true)
            if expectSuccess { #expect(result.status == 0, "walvault \(arguments.joined(separator: " ")): \(result.stdout) \(result.stderr)") }
            return result
        }

        /// Backs up and returns the label, from `--json`.
        func backup(_ type: String? = nil) throws -> (label: String, json: [String: Any]) {
            let result = try walvault(["backup", "--json", "--no-expire"] + (type.map { ["--type", $0] } ?? []))
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
            return (try #require(json["label"] as? String), json)
        }

        func pgbench(_ arguments: [String]) throws {
            let result = try run(
                Fixture.postgresBin + "/pgbench", arguments + ["-h", ws.path, "-p", "\(cluster.port)", "-U", "postgres", "postgres"],
                asPostgres: true)
            #expect(result.status == 0, "pgbench \(arguments): \(result.stderr)")
        }

        func now() throws -> String {
            try cluster.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
        }

        func archiveNow() throws {
            let file = try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
            #expect(try cluster.waitForArchive(of: file).failed == 0)
        }

        /// What the test checks after a restore: every row of the pgbench tables, summed.
        func state(_ of: PostgresCluster) throws -> String {
            try of.sql(
                "SELECT (SELECT count(*) || ':' || sum(abalance) FROM pgbench_accounts) || '/' || (SELECT count(*) || ':' || coalesce(sum(delta), 0) FROM pgbench_history) || '/' || (SELECT count(*) FROM marks)"
            )
        }

        /// Restores, starts the result on a new port, and returns the running cluster.
        func restore(_ arguments: [String], into name: String) throws -> PostgresCluster {
            let target = ws.file(name)
            try walvault(["restore", "--pgdata", target] + arguments)
            let restored = PostgresCluster(workspace: ws, pgdata: target, port: Fixture.freePort())
            let conf = try String(contentsOfFile: target + "/postgresql.conf", encoding: .utf8)
            try (conf + "\nport = \(restored.port)\narchive_mode = off\n").write(
                toFile: target + "/postgresql.conf", atomically: true, encoding: .utf8)
            try ws.giveToPostgres()
            try restored.start()
            try restored.waitForPromotion()
            return restored
        }
    }

    /// The files a chain assembles are byte-identical to a full taken at the same moment, after a
    /// workload that sets hint bits without WAL (data checksums off, wal_log_hints off: a page-LSN
    /// method would miss those pages) and with data checksums on. The exceptions, by design:
    /// backup_label (each backup's own start) and global/pg_control (rewritten by each backup's
    /// checkpoint, and copied last); postgresql.auto.conf gets the same recovery block in both.
    @Test(arguments: [false, true]) func aChainRestoresByteIdenticalToAFullOfTheSameMoment(checksums: Bool) throws {
        let rig = try Rig(checksums: checksums)
        let cluster = rig.cluster
        try cluster.sql("CREATE EXTENSION pageinspect")
        try cluster.sql("CREATE TABLE cold AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, 150000) g")
        try cluster.sql("CREATE TABLE hot AS SELECT g AS id, 0 AS n FROM generate_series(1, 20000) g")
        try cluster.sql("CREATE TABLE marks (note text)")
        try cluster.sql("CHECKPOINT")
        let lsnBefore = try cluster.sql("SELECT lsn FROM page_header(get_raw_page('cold', 100))")
        let pageBefore = try cluster.sql("SELECT md5(get_raw_page('cold', 100))")
        let prior = try rig.backup("full")

        try cluster.sql("UPDATE hot SET n = n + 1 WHERE id % 7 = 0")
        // Large SELECTs over pages nothing wrote since the prior: they set hint bits.
        #expect(try cluster.sql("SELECT count(*) FROM cold WHERE payload LIKE 'ab%'") != "0")
        #expect(try cluster.sql("SELECT count(*) FROM hot WHERE n = 0") != "0")
        try cluster.sql("CHECKPOINT")
        let lsnAfter = try cluster.sql("SELECT lsn FROM page_header(get_raw_page('cold', 100))")
        #expect(try cluster.sql("SELECT md5(get_raw_page('cold', 100))") != pageBefore, "hint bits changed the page")
        // Without checksums the page changed and its LSN did not: only a content check sees it.
        #expect((lsnAfter == lsnBefore) == !checksums, "LSN \(lsnBefore) -> \(lsnAfter)")

        let incr = try rig.backup("incr")
        let full = try rig.backup("full")
        #expect(incr.json["type"] as? String == "incr" && incr.json["prior"] as? String == prior.label)
        let incrStored = try #require(incr.json["stored_bytes"] as? Int)
        let fullStored = try #require(full.json["stored_bytes"] as? Int)
        #expect(incrStored < fullStored, "the incr stored \(incrStored), the full \(fullStored)")

        // Both restored (not started): compared file by file.
        try rig.walvault(["restore", "--pgdata", rig.ws.file("from-chain"), "--backup", incr.label, "--target", "latest"])
        try rig.walvault(["restore", "--pgdata", rig.ws.file("from-full"), "--backup", full.label, "--target", "latest"])
        let chainFiles = Set(filesRecursively(rig.ws.file("from-chain")))
        let fullFiles = Set(filesRecursively(rig.ws.file("from-full")))
        #expect(
            chainFiles == fullFiles, "only in the chain: \(chainFiles.subtracting(fullFiles)); only in the full: \(fullFiles.subtracting(chainFiles))"
        )
        var compared = 0
        var differing: [String] = []
        for file in chainFiles.intersection(fullFiles).sorted() where file != "backup_label" && file != "global/pg_control" {
            let a = try Data(contentsOf: URL(fileURLWithPath: rig.ws.file("from-chain/" + file)))
            let b = try Data(contentsOf: URL(fileURLWithPath: rig.ws.file("from-full/" + file)))
            if a != b { differing.append(file) }
            compared += 1
        }
        #expect(differing.isEmpty, "files that differ: \(differing)")
        #expect(compared > 900, "\(compared) files compared")
        let coldFile = try cluster.sql("SELECT pg_relation_filepath('cold')")
        #expect(chainFiles.contains(coldFile))
    }

    /// A full, three incrementals with pgbench between them, then restores to a moment between the
    /// second and third, and to the end; exact to the row. Also with the full in a local store and
    /// the incrementals only in S3 (moto), everything encrypted.
    @Test(arguments: [false, true]) func pointInTimeThroughAChain(acrossStoresEncrypted: Bool) throws {
        var extra = ""
        var storeSections: String?
        let rig = try Rig()
        if acrossStoresEncrypted {
            // Encrypted from the start; the S3 store joins after the full.
            let passphrase = try rig.ws.write("passphrase", "chain passphrase \(UUID().uuidString)\n")
            chmod(passphrase, 0o600)
            extra = "[encryption]\npassphrase_file = \"\(passphrase)\"\n"
            try rewriteConfig(rig, extra: extra, s3: nil)
        }
        try rig.pgbench(["-i", "-s", "2", "-q"])
        try rig.cluster.sql("CREATE TABLE marks (note text)")
        let full = try rig.backup()
        #expect(full.json["type"] as? String == "full", "no prior: a full (\(full.json))")

        if acrossStoresEncrypted {
            let server = try S3TestServer.get()
            let s3Prefix = "chain-\(UUID().uuidString.prefix(8).lowercased())"
            let key = try rig.ws.write("s3-key-id", server.accessKeyID + "\n")
            let secret = try rig.ws.write("s3-secret", server.secretAccessKey + "\n")
            try rig.ws.giveToPostgres()
            chmod(key, 0o600)
            chmod(secret, 0o600)
            storeSections = """
                \(server.storeSection(prefix: s3Prefix, keyFile: key, secretFile: secret))

                """
            try rewriteConfig(rig, extra: extra, s3: storeSections)
        }
        var labels: [String] = []
        var target = ""
        var atTarget = ""
        for round in 1...3 {
            try rig.pgbench(["-T", "2", "-c", "2", "-n"])
            try rig.cluster.sql("INSERT INTO marks VALUES ('round \(round)')")
            let incr = try rig.backup()
            #expect(incr.json["type"] as? String == "incr", "\(incr.json)")
            #expect((incr.json["reason"] as? String)?.contains("an incr on the newest backup") == true, "\(incr.json)")
            labels.append(incr.label)
            if round == 2 {
                try rig.pgbench(["-t", "50", "-c", "1", "-n"])
                try rig.archiveNow()
                atTarget = try rig.state(rig.cluster)
                let last = try rig.now()
                try rig.cluster.waitForClock(pastBy: 1.1, last)
                target = try rig.now()
                try rig.cluster.waitForClock(pastBy: 1.1, target)
            }
        }
        try rig.pgbench(["-t", "100", "-c", "2", "-n"])
        try rig.archiveNow()
        let atEnd = try rig.state(rig.cluster)
        #expect(atEnd != atTarget)

        let info = try rig.walvault(["info", "--json"])
        let backups = try #require((try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])?["backups"] as? [[String: Any]])
        let third = try #require(backups.first { $0["label"] as? String == labels[2] })
        #expect(third["type"] as? String == "incr" && third["prior"] as? String == labels[1], "\(third)")
        #expect((third["chain"] as? [String])?.first == full.label, "\(third)")

        if acrossStoresEncrypted {
            // The incrementals live only in S3 now; the full only in the local store.
            for label in labels { try FileManager.default.removeItem(atPath: rig.store + "/main/backup/" + label) }
            for file in filesRecursively(rig.store) where !file.contains("/wal/") && !file.hasSuffix("archive.info") && !file.hasSuffix(".copy") {
                #expect(fileStarts(rig.store + "/" + file, with: "WALVAULT"), "\(file) is not encrypted")
            }
        }
        try rig.cluster.stop(mode: "immediate")

        let dry = try rig.walvault(["restore", "--pgdata", rig.ws.file("dry"), "--target-time", target, "--dry-run"])
        #expect(dry.stdout.contains("backup \(labels[1]) (incr on \(labels[0]))"), "\(dry.stdout)")
        #expect(dry.stdout.contains("chain: reads"), "\(dry.stdout)")
        let atTime = try rig.restore(["--target-time", target], into: "at-time")
        #expect(try rig.state(atTime) == atTarget)
        try atTime.stop(mode: "immediate")
        let latest = try rig.restore(["--target", "latest"], into: "latest")
        #expect(try rig.state(latest) == atEnd)
        try latest.stop(mode: "immediate")
    }

    func rewriteConfig(_ rig: Rig, extra: String, s3: String?) throws {
        var text = "[cluster]\nname = \"main\"\npgdata = \"\(rig.cluster.pgdata)\"\n"
        text += "conninfo = \"host=\(rig.ws.path) port=\(rig.cluster.port) user=postgres dbname=postgres\"\n"
        text += "spool = \"\(rig.ws.file("spool"))\"\n\(extra)\n"
        text += s3 ?? ""
        text += "[[stores]]\nname = \"store1\"\ntype = \"local\"\npath = \"\(rig.store)\"\n"
        try text.write(toFile: rig.config, atomically: true, encoding: .utf8)
        try rig.ws.giveToPostgres()
        chmod(rig.config, 0o600)
    }

    /// Expire with a 1-day window, two days on: the full a kept incremental reads stays, the
    /// backup between them that nothing needs goes, and the chain still restores. Then damage: one
    /// part of the full deleted; verify, restore and info each name the incremental.
    @Test func expireKeepsWhatAChainReadsAndDamageIsNamed() throws {
        let rig = try Rig(extraConfig: "[retention]\ndays = 1\n")
        try rig.pgbench(["-i", "-s", "1", "-q"])
        try rig.cluster.sql("CREATE TABLE marks (note text)")
        let full = try rig.backup()
        try rig.pgbench(["-t", "200", "-c", "2", "-n"])
        let diff = try rig.backup("diff")
        #expect(diff.json["prior"] as? String == full.label)
        try rig.pgbench(["-t", "200", "-c", "2", "-n"])
        let diff2 = try rig.backup("diff")
        #expect(diff2.json["prior"] as? String == full.label, "a diff builds on the full, not on the other diff")
        try rig.archiveNow()
        let expected = try rig.state(rig.cluster)

        let asOf = try rig.cluster.sql("SELECT to_char((now() + interval '2 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'")
        let plan = try rig.walvault(["expire", "--dry-run", "--as-of", asOf])
        #expect(plan.stdout.contains("keep backup \(full.label)") && plan.stdout.contains("reads parts of it"), "\(plan.stdout)")
        try rig.walvault(["expire", "--as-of", asOf, "--force"])
        let left = try FileManager.default.contentsOfDirectory(atPath: rig.store + "/main/backup").sorted()
        #expect(left == [full.label, diff2.label], "\(left)")
        try rig.cluster.stop(mode: "immediate")
        let restored = try rig.restore(["--target", "latest"], into: "after-expire")
        #expect(try rig.state(restored) == expected)
        try restored.stop(mode: "immediate")

        // Damage: a part of the full that the diff reads.
        let manifestText = try String(contentsOfFile: rig.store + "/main/backup/\(diff2.label)/backup.manifest", encoding: .utf8)
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(manifestText.utf8)) as? [String: Any])
        let references = try #require(manifest["references"] as? [[String: Any]])
        let part = try #require((references.first?["parts"] as? [[String: Any]])?.first?["name"] as? String)
        try FileManager.default.removeItem(atPath: rig.store + "/main/backup/\(full.label)/\(part)")
        let verify = try rig.walvault(["verify"], expectSuccess: false)
        #expect(verify.status == 1)
        #expect(
            verify.stdout.contains("backup \(diff2.label) is broken: it builds on backup \(full.label), whose part \(part) no store holds"),
            "\(verify.stdout)")
        // Block maps are kept in an unnamed file under TMPDIR: where there is none, verify says which
        // backups it could not check block by block, and what to set.
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = rig.ws.file("no-such-directory")
        let withoutTemporary = try run(rig.ws.walvault, ["--config", rig.config, "verify"], environment: environment, asPostgres: true)
        #expect(withoutTemporary.status == 1)
        #expect(
            withoutTemporary.stdout.contains("cannot keep its block maps in a temporary file")
                && withoutTemporary.stdout.contains("set TMPDIR to a writable directory"), "\(withoutTemporary.stdout)")
        let target = rig.ws.file("refused")
        let refused = try rig.walvault(["restore", "--pgdata", target, "--backup", diff2.label, "--target", "latest"], expectSuccess: false)
        #expect(refused.status == 1 && refused.stderr.contains("which it builds on) is in no store"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target), "refused before writing")
        let info = try rig.walvault(["info"])
        #expect(info.stdout.contains("DAMAGED backup \(diff2.label)"), "\(info.stdout)")
        #expect(info.stdout.contains("DAMAGED backup \(full.label)"), "\(info.stdout)")
        let deleteFull = try rig.walvault(["expire", "--dry-run"])
        #expect(deleteFull.stdout.contains("keep backup \(full.label)"), "\(deleteFull.stdout)")

        // The next backup builds on neither: an incremental on a broken chain would be broken too.
        try rig.cluster.start()
        let next = try rig.walvault(["backup", "--json", "--no-expire"])
        let nextJSON = try #require(try JSONSerialization.jsonObject(with: Data(next.stdout.utf8)) as? [String: Any])
        #expect(nextJSON["type"] as? String == "full", "\(next.stdout)")
        #expect(next.stderr.contains("backup \(diff2.label) is not built on"), "\(next.stderr)")
        // A prior whose block maps cannot be read: a full all the same, said once.
        let nextLabel = try #require(nextJSON["label"] as? String)
        let map = try #require(
            try FileManager.default.contentsOfDirectory(atPath: rig.store + "/main/backup/" + nextLabel).first { $0.hasPrefix("map-") })
        var mapBytes = try Data(contentsOf: URL(fileURLWithPath: rig.store + "/main/backup/\(nextLabel)/\(map)"))
        mapBytes[mapBytes.count / 2] ^= 0x01
        try mapBytes.write(to: URL(fileURLWithPath: rig.store + "/main/backup/\(nextLabel)/\(map)"))
        let afterDamage = try rig.walvault(["backup", "--json", "--no-expire", "--type", "incr"])
        let afterJSON = try JSONSerialization.jsonObject(with: Data(afterDamage.stdout.utf8)) as? [String: Any]
        #expect(afterJSON?["type"] as? String == "full", "\(afterDamage.stdout)")
        #expect(
            afterDamage.stderr.contains("cannot read the block map") && afterDamage.stderr.contains("taking a full backup instead"),
            "\(afterDamage.stderr)")
    }

    /// kill -9 at random moments of an incremental, 8 times: then a backup builds on the last
    /// complete one, a restore gives every row, and expire plans as if the killed runs never were.
    @Test func killNineDuringAnIncrementalLeavesNothingMistakenForComplete() throws {
        let rig = try Rig(extraConfig: "[retention]\ndays = 1\n")
        try rig.pgbench(["-i", "-s", "8", "-q"])
        try rig.cluster.sql("CREATE TABLE marks (note text)")
        let full = try rig.backup()
        var generator = SystemRandomNumberGenerator()
        var delays: [Int] = []
        for _ in 0..<8 {
            try rig.pgbench(["-t", "100", "-c", "2", "-n"])
            // An incr of this cluster takes a few hundred ms: most kills land inside it.
            let delay = Int.random(in: 20...500, using: &generator)
            delays.append(delay)
            // setpriv execs walvault in its own process (runuser would fork it), so the kill hits it.
            let pid = try spawn(
                "/usr/bin/setpriv",
                [
                    "--reuid", "postgres", "--regid", "postgres", "--init-groups", "--", rig.ws.walvault, "--config", rig.config, "backup",
                    "--no-expire"
                ],
                environment: ["PATH": "/usr/bin:/bin", "HOME": "/tmp"])
            usleep(UInt32(delay * 1000))
            kill(pid, SIGKILL)
            _ = waitFor(pid)
        }
        let info = try rig.walvault(["info", "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
        let complete = (json["backups"] as? [[String: Any]] ?? []).compactMap { $0["label"] as? String }
        let newestComplete = try #require(complete.last, "delays \(delays)")
        #expect((json["damagedBackups"] as? [Any] ?? []).isEmpty, "\(json)")
        // At least one kill fell mid-copy (the rest before the first part or after the manifest).
        #expect(!(json["incomplete"] as? [Any] ?? []).isEmpty, "delays \(delays): \(json)")
        try rig.cluster.sql("INSERT INTO marks VALUES ('after the kills')")
        let next = try rig.backup()
        #expect(next.json["prior"] as? String == newestComplete, "delays \(delays): \(next.json)")
        #expect(complete.first == full.label)
        try rig.archiveNow()
        let expected = try rig.state(rig.cluster)
        // Two days on, the killed runs are interrupted backups to remove, and the chain stays whole.
        let asOf = try rig.cluster.sql("SELECT to_char((now() + interval '2 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'")
        let expired = try rig.walvault(["expire", "--as-of", asOf, "--force"])
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: rig.store + "/main/backup"))
        #expect(
            left.isSubset(of: Set(complete + [next.label])) && left.contains(next.label),
            "left \(left), complete \(complete), next \(next.label): \(expired.stdout)")
        try rig.cluster.stop(mode: "immediate")
        let restored = try rig.restore(["--target", "latest"], into: "after-kills")
        #expect(try rig.state(restored) == expected, "delays \(delays)")
        try restored.stop(mode: "immediate")
    }
}
