import Foundation
import Testing
import WalvaultTesting

#if canImport(Glibc)
    import Glibc
#endif

/// Files snapshots under expire and verify, and kill -9 at any moment of a files backup or an
/// expire (issue 30): expire deletes only what no kept snapshot uses, verify names every snapshot
/// a missing pack breaks, and whatever was killed, every listed snapshot restores.
@Suite(.serialized) struct FilesRetentionTests {
    struct Rig {
        let ws: Workspace
        let store: String
        let tree: String
        let config: String

        init() throws {
            ws = try Workspace()
            store = try ws.mkdir("store")
            tree = try ws.mkdir("tree")
            config = try ws.config(
                stores: [store],
                extra: """
                    spool = "\(try ws.mkdir("spool"))"
                    [retention]
                    days = 1
                    [[storage]]
                    name = "uploads"
                    path = "\(tree)"
                    """)
        }

        func walvault(_ arguments: [String]) throws -> ProcessResult { try ws.walvault(["--config", config] + arguments) }

        func objects(_ part: String) -> [String] { filesRecursively(store).filter { $0.contains("/files/\(part)/") }.sorted() }

        /// Writes `megabytes` of bytes that do not compress (AES-CTR under `seed`) at `name` in the tree.
        func randomFile(_ name: String, megabytes: Int, seed: Int) throws {
            let key = String(format: "%032x", seed)
            let made = try run(
                "/bin/sh",
                ["-c", "openssl enc -aes-128-ctr -K \(key) -iv 0 -nosalt -in /dev/zero 2>/dev/null | head -c \(megabytes << 20) > '\(tree)/\(name)'"])
            guard made.status == 0 else { throw TestFailure("cannot write \(name): \(made.stderr)") }
        }

        func backup() throws -> String {
            let result = try walvault(["files", "backup", "--json"])
            guard result.status == 0 else { throw TestFailure("files backup failed: \(result.stderr)") }
            sleep(1)  // snapshot IDs are to the second
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
            return try #require(parsed.first?["id"] as? String)
        }

        func listed() throws -> [String] {
            let list = try walvault(["files", "list", "--json"])
            guard list.status == 0 else { throw TestFailure("files list failed: \(list.stderr)") }
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
            return parsed.compactMap { $0["id"] as? String }
        }

        /// Restores a snapshot into a new directory and compares it with `expected` (`FilesBackupTests.describe`).
        func restores(_ id: String, as expected: [String: String], into name: String) throws -> Bool {
            let out = ws.file(name)
            let result = try walvault(["files", "restore", "--name", "uploads", "--snapshot", id, "--into", out])
            guard result.status == 0 else { throw TestFailure("restore of \(id) failed: \(result.stderr)") }
            defer { try? FileManager.default.removeItem(atPath: out) }
            return FilesBackupTests.describe(out) == expected
        }
    }

    @Test func expireKeepsWhatTheKeptSnapshotUsesAndVerifyNamesWhatAMissingPackBreaks() throws {
        let rig = try Rig()
        try rig.randomFile("shared.bin", megabytes: 3, seed: 1)
        try rig.randomFile("changing.bin", megabytes: 20, seed: 2)
        let first = try rig.backup()
        try rig.randomFile("changing.bin", megabytes: 20, seed: 3)
        let second = try rig.backup()
        try rig.randomFile("changing.bin", megabytes: 20, seed: 4)
        let expected = FilesBackupTests.describe(rig.tree)
        let third = try rig.backup()
        #expect(try rig.listed() == [first, second, third])
        let packsBefore = rig.objects("packs")
        #expect(packsBefore.count >= 4, "\(packsBefore)")

        let verified = try rig.walvault(["verify"])
        #expect(verified.status == 0 && verified.stdout.contains("3 files snapshots"), "\(verified.stdout) \(verified.stderr)")
        // check has a line per tree: its newest snapshot, against backup_max_age_hours.
        let check = try rig.walvault(["check"])
        #expect(check.stdout.contains("ok   files snapshot of uploads: \(third), "), "\(check.stdout)")

        // Two days on, with a one-day window: the third stays (the tree when the window begins),
        // the others go, and so do the packs only they used; the shared file's pack stays.
        let asOf = RecoveryMoment.utc(secondsFromNow: 2 * 86_400)
        let dry = try rig.walvault(["expire", "--as-of", asOf, "--force", "--dry-run"])
        #expect(dry.status == 0 && dry.stdout.contains("files snapshot uploads/\(first)"), "\(dry.stdout) \(dry.stderr)")
        #expect(rig.objects("packs") == packsBefore)
        let expired = try rig.walvault(["expire", "--as-of", asOf, "--force", "--json"])
        #expect(expired.status == 0, "\(expired.stderr)")
        #expect(try rig.listed() == [third])
        let packsAfter = rig.objects("packs")
        #expect(packsAfter.count < packsBefore.count && Set(packsAfter).isSubset(of: Set(packsBefore)), "\(packsBefore) -> \(packsAfter)")
        #expect(rig.objects("index").count == 1)
        #expect(try rig.restores(third, as: expected, into: "after-expire"))
        // The rewritten index still tells the next backup what is stored: nothing new for the same tree.
        let again = try rig.walvault(["files", "backup", "--json"])
        let result = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [[String: Any]])
        #expect(result.first?["newBytes"] as? Int == 0, "\(again.stdout)")
        sleep(1)

        // A pack the kept snapshots use goes missing: verify names the pack and the snapshots.
        let latest = try rig.listed()
        let victim = try #require(rig.objects("packs").first)
        try FileManager.default.removeItem(atPath: rig.store + "/" + victim)
        let broken = try rig.walvault(["verify"])
        #expect(broken.status == 1, "\(broken.stdout)")
        let line = try #require(broken.stdout.split(separator: "\n").first { $0.contains(String(victim.split(separator: "/").last!)) })
        #expect(line.hasPrefix("FAIL") && line.contains("is missing") && latest.allSatisfy { line.contains("uploads/\($0)") }, "\(line)")
        let refused = try rig.walvault(["files", "restore", "--name", "uploads", "--into", rig.ws.file("broken")])
        #expect(refused.status == 1 && refused.stderr.contains("is missing from store"), "\(refused.stderr)")
    }

    /// kill -9 of a files backup, eight times at random moments, then of an expire eight times:
    /// every snapshot listed afterwards restores as it was, verify finds nothing wrong, and the
    /// runs that finish afterwards behave as if the killed ones never happened.
    @Test func killNineAtAnyMomentOfABackupOrAnExpireLeavesEverySnapshotWhole() throws {
        let rig = try Rig()
        for n in 0..<4 { try rig.randomFile("part-\(n).bin", megabytes: 12, seed: 10 + n) }
        try FileManager.default.createDirectory(atPath: rig.tree + "/small", withIntermediateDirectories: true)
        for n in 0..<200 { try "small file \(n)\n".write(toFile: "\(rig.tree)/small/\(n).txt", atomically: false, encoding: .utf8) }
        let base = try rig.backup()
        var expectedBy: [String: [String: String]] = [base: FilesBackupTests.describe(rig.tree)]
        var generator = SystemRandomNumberGenerator()
        var delays: [Int] = []
        for round in 0..<8 {
            try rig.randomFile("part-\(round % 4).bin", megabytes: 12, seed: 100 + round)
            let delay = Int.random(in: 10...400, using: &generator)
            delays.append(delay)
            let pid = try spawn(rig.ws.walvault, ["--config", rig.config, "files", "backup"])
            usleep(UInt32(delay * 1000))
            kill(pid, SIGKILL)
            _ = waitFor(pid)
            sleep(1)
            let listed = try rig.listed()
            for id in listed where expectedBy[id] == nil { expectedBy[id] = FilesBackupTests.describe(rig.tree) }
            #expect(Set(listed) == Set(expectedBy.keys), "delays \(delays)")
        }
        // Some runs were killed before their snapshot was named (the others finished first).
        #expect(expectedBy.count < 9, "delays \(delays): every killed run finished")
        for (id, expected) in expectedBy.sorted(by: { $0.key < $1.key }) {
            #expect(try rig.restores(id, as: expected, into: "killed-\(id)"), "snapshot \(id), delays \(delays)")
        }
        let verified = try rig.walvault(["verify"])
        #expect(verified.status == 0, "delays \(delays): \(verified.stdout)")
        let after = try rig.backup()
        expectedBy[after] = FilesBackupTests.describe(rig.tree)

        // Expire killed mid-way: what it keeps stays whole, and a later expire finishes the sweep.
        let asOf = RecoveryMoment.utc(secondsFromNow: 2 * 86_400)
        var expireDelays: [Int] = []
        for _ in 0..<8 {
            let delay = Int.random(in: 5...150, using: &generator)
            expireDelays.append(delay)
            let pid = try spawn(rig.ws.walvault, ["--config", rig.config, "expire", "--as-of", asOf, "--force"])
            usleep(UInt32(delay * 1000))
            kill(pid, SIGKILL)
            _ = waitFor(pid)
            let listed = try rig.listed()
            #expect(listed.contains(after), "expire delays \(expireDelays)")
            let verify = try rig.walvault(["verify"])
            #expect(verify.status == 0, "expire delays \(expireDelays): \(verify.stdout)")
        }
        let finished = try rig.walvault(["expire", "--as-of", asOf, "--force"])
        #expect(finished.status == 0, "\(finished.stderr)")
        #expect(try rig.listed() == [after])
        #expect(try rig.restores(after, as: expectedBy[after]!, into: "final"))
        #expect(rig.objects("index").count == 1)
        // Only the packs the kept snapshot uses are left.
        let verify = try rig.walvault(["verify", "--json"])
        #expect(verify.status == 0)
    }
}

extension FilesRetentionTests {
    /// A tree with no snapshot yet, then a files backup that fails, alert like a missing or failed
    /// base backup, to a real webhook receiver; a good snapshot and a check clear both.
    @Test func aMissingOrFailedFilesSnapshotAlertsAndAGoodOneClearsIt() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let tree = try ws.mkdir("tree")
        _ = try ws.write("tree/a.txt", "attachment\n")
        let sinks = try AlertSinks(user: "alerts@example.com", password: "unused-\(UUID().uuidString)")
        let config = try ws.config(
            stores: [store],
            extra: """
                spool = "\(try ws.mkdir("spool"))"
                [alerts]
                webhook_url_env = "WALVAULT_TEST_WEBHOOK"
                after_failures = 1
                [[storage]]
                name = "uploads"
                path = "\(tree)"
                """)
        var environment = ProcessInfo.processInfo.environment
        environment["WALVAULT_TEST_WEBHOOK"] = "http://127.0.0.1:\(sinks.webhookPort)/hooks/WEBHOOKTOKENMARKER"
        func walvault(_ arguments: [String]) throws -> ProcessResult {
            try run(ws.walvault, ["--config", config] + arguments, environment: environment)
        }
        /// What the webhook received about files (no base backup exists either: "backup age" alerts too).
        func alerts() throws -> [[String: String]] {
            try sinks.received("webhook").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]) }
                .filter { $0["condition"]?.hasPrefix("files ") == true }
        }

        // No snapshot at all: check fails on that line and alerts at once.
        let missing = try walvault(["check"])
        #expect(missing.status != 0)
        #expect(missing.stdout.contains("FAIL files snapshot of uploads: "), "\(missing.stdout)")
        var received = try alerts()
        #expect(received.count == 1, "\(received)")
        #expect(received.first?["status"] == "alert" && received.first?["condition"] == "files snapshot age of uploads", "\(received)")
        #expect(received.first?["text"]?.contains("error: files snapshot of uploads: no snapshot\n") == true, "\(received)")
        #expect(received.first?["text"]?.contains("check: that walvault-files.timer") == true, "\(received)")

        // The tree's directory gone: the files backup fails in one line naming it, and alerts.
        try FileManager.default.moveItem(atPath: tree, toPath: tree + "-away")
        let failed = try walvault(["files", "backup"])
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("[[storage]] \"uploads\": cannot open \(tree)"), "\(failed.stderr)")
        received = try alerts()
        #expect(received.count == 2, "\(received)")
        #expect(received.last?["status"] == "alert" && received.last?["condition"] == "files backup of uploads", "\(received)")
        #expect(received.last?["text"]?.contains("check: the output of walvault files backup --name uploads") == true, "\(received)")

        // Back, and snapshotted: the failed backup recovers; the next check clears the missing snapshot.
        try FileManager.default.moveItem(atPath: tree + "-away", toPath: tree)
        let good = try walvault(["files", "backup"])
        #expect(good.status == 0, "\(good.stderr)")
        let fresh = try walvault(["check"])
        #expect(fresh.stdout.contains("ok   files snapshot of uploads: "), "\(fresh.stdout)")
        received = try alerts()
        let recovered = received.filter { $0["status"] == "recovered" }.compactMap { $0["condition"] }
        #expect(Set(recovered) == ["files backup of uploads", "files snapshot age of uploads"], "\(received)")
        #expect(received.count == 4, "\(received)")
        for text in [missing.stdout, missing.stderr, failed.stderr, good.stdout, fresh.stdout] + sinks.received("webhook") {
            #expect(!text.contains("WEBHOOKTOKENMARKER"))
        }
    }
}

/// A moment as `expire --as-of` reads it, in UTC.
enum RecoveryMoment {
    static func utc(secondsFromNow: Int) -> String {
        var time = time_t(Int(Date().timeIntervalSince1970) + secondsFromNow)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d+00", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min,
            parts.tm_sec)
    }
}
