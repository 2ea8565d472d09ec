import Foundation
import Testing
import WalvaultTesting

/// Issue 29, part 1: with forum_topics, each base backup and the WAL after it go into a forum
/// topic of their own, and expire deletes a topic whole once nothing in it is kept, however old
/// its messages (deleteMessage works for 48 hours only). Real PostgreSQL 15, the Bot API
/// stand-in modelling forum supergroups, and the walvault binary.
@Suite(.serialized) struct TelegramTopicsTests {
    /// "YYYY-MM-DD HH:MM:SS+00", `days` from now.
    static func moment(daysFromNow days: Int) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: Date().addingTimeInterval(Double(days) * 86_400)) + "+00"
    }

    static func backupLabels(_ info: String) -> [String] {
        info.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  backup ") else { return nil }
            return line.dropFirst("  backup ".count).split(separator: " ").first.map(String.init)
        }
    }

    /// Three full backups a second or more apart, 20,000 rows before each and 100 after, the WAL
    /// archived after each, everything shipped; their labels.
    static func threeFullBackups(_ rig: TelegramOffsiteTests.Rig) throws -> [String] {
        let cluster = rig.cluster
        try cluster.sql("CREATE TABLE events (id serial PRIMARY KEY, note text)")
        var labels: [String] = []
        for round in 1...3 {
            try cluster.sql("INSERT INTO events (note) SELECT 'round \(round) ' || md5(g::text) FROM generate_series(1, 20000) g")
            let backup = try rig.walvault(["backup", "--type", "full", "--json"])
            #expect(backup.status == 0, "\(backup.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any], "\(backup.stdout)")
            labels.append(try #require(json["label"] as? String))
            try cluster.sql("INSERT INTO events (note) SELECT 'after backup \(round) ' || g FROM generate_series(1, 100) g")
            try rig.archiveNow(cluster)
            usleep(1_100_000)
        }
        try rig.waitUntilShipped()
        return labels
    }

    @Test func expireDeletesWholeTopicsAfter45DaysAndTheChatAloneStillRestores() throws {
        let rig = try TelegramOffsiteTests.Rig(partSizeMB: 1, forumTopics: true, retentionDays: 30)
        let cluster = rig.cluster
        try cluster.start()
        defer { try? cluster.stop(mode: "immediate") }
        let labels = try Self.threeFullBackups(rig)
        let shipped = rig.standIn.stats()
        #expect(shipped["topics"] == 3, "one topic per backup: \(shipped)")
        #expect(Self.backupLabels(try rig.walvault(["info"], config: rig.newMachineConfig).stdout) == labels)
        let fit = try rig.walvault(["check"])
        #expect(fit.stdout.contains("ok   retention in \"telegram\": chat \(rig.standIn.chatID) is a forum"), "\(fit.stdout)")

        // 45 days later, with retention at 30 days, the third backup is the newest one before the
        // window: it stays with its WAL, the first two and theirs go.
        let offset = 45 * 86_400
        let asOf = Self.moment(daysFromNow: 45)
        try rig.standIn.set(["rate": 600, "window": 60, "keep_dir": rig.keep, "forum": true, "clock_offset": offset, "can_delete_messages": false])
        let refused = try rig.walvault(["expire", "--as-of", asOf, "--force"])
        #expect(refused.status != 0)
        let refusal = refused.stderr.split(separator: "\n").filter { !$0.isEmpty }
        #expect(refusal.count == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("Delete messages") && refused.stderr.contains("forum_topics = false"), "\(refused.stderr)")
        #expect(rig.standIn.stats()["topics_deleted", default: 0] == 0)
        #expect(rig.standIn.stats()["messages"] == shipped["messages"], "nothing half-deleted in the chat")
        #expect(Self.backupLabels(try rig.walvault(["info"], config: rig.newMachineConfig).stdout) == labels)
        let unfit = try rig.walvault(["check"])
        #expect(
            unfit.stdout.contains("FAIL retention in \"telegram\": forum_topics = true, but the bot lacks the administrator right Delete messages"),
            "\(unfit.stdout)")

        try rig.standIn.set(["rate": 600, "window": 60, "keep_dir": rig.keep, "forum": true, "clock_offset": offset, "can_delete_messages": true])
        let expire = try rig.walvault(["expire", "--as-of", asOf, "--force"])
        #expect(expire.status == 0, "\(expire.stdout) \(expire.stderr)")
        #expect(expire.stdout.contains("deleted 2 forum topics with every message in them"), "\(expire.stdout)")
        let after = rig.standIn.stats()
        #expect(after["topics_deleted"] == 2, "\(after)")
        let messagesGone = (shipped["messages"] ?? 0) - (after["messages"] ?? 0)
        let bytesGone = (shipped["message_bytes"] ?? 0) - (after["message_bytes"] ?? 0)
        #expect(messagesGone > 0 && bytesGone * 2 > (shipped["message_bytes"] ?? 0), "shipped \(shipped), after \(after)")
        print(
            "topics: \(shipped["messages"] ?? 0) messages, \(shipped["message_bytes"] ?? 0) bytes -> \(after["messages"] ?? 0), \(after["message_bytes"] ?? 0)"
        )

        // A new machine sees only the third backup, and restores it from the chat alone.
        let info = try rig.walvault(["info"], config: rig.newMachineConfig)
        #expect(info.status == 0, "\(info.stderr)")
        #expect(Self.backupLabels(info.stdout) == [labels[2]], "\(info.stdout)")
        let verify = try rig.walvault(["verify"], config: rig.newMachineConfig)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        try cluster.stop(mode: "immediate")
        let newData = rig.ws.file("restored")
        let restore = try rig.walvault(["restore", "--pgdata", newData, "--target", "latest"], config: rig.newMachineConfig)
        #expect(restore.status == 0, "\(restore.stdout) \(restore.stderr)")
        let restored = PostgresCluster(workspace: rig.ws, pgdata: newData, port: cluster.port)
        try restored.start()
        defer { try? restored.stop(mode: "immediate") }
        try restored.waitForPromotion()
        #expect(try restored.sql("SELECT count(*) FROM events WHERE note LIKE 'round %'") == "60000")
        #expect(try restored.sql("SELECT count(*) FROM events WHERE note LIKE 'after backup 3 %'") == "100")

        // Expire again: nothing more to delete, and nothing is tried twice.
        let again = try rig.walvault(["expire", "--as-of", asOf, "--force"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(rig.standIn.stats()["topics_deleted"] == 2)
    }

    /// A process and every descendant (runuser forks walvault), killed at once with SIGKILL.
    static func killTree(_ pid: pid_t) {
        var pids = [pid]
        var i = 0
        while i < pids.count {
            let children = (try? String(contentsOfFile: "/proc/\(pids[i])/task/\(pids[i])/children", encoding: .utf8)) ?? ""
            pids += children.split(separator: " ").compactMap { pid_t($0) }
            i += 1
        }
        for victim in pids.reversed() { kill(victim, SIGKILL) }
    }

    /// kill -9 of a topic-deleting expire, at eight moments: whatever the moment, the chat alone
    /// still shows a catalog whose every backup verifies, and the next expire finishes the job.
    @Test func expireKilledAtAnyMomentLeavesAChatThatVerifiesAndTheNextRunFinishes() throws {
        let rig = try TelegramOffsiteTests.Rig(partSizeMB: 1, forumTopics: true, retentionDays: 30)
        let cluster = rig.cluster
        try cluster.start()
        defer { try? cluster.stop(mode: "immediate") }
        let labels = try Self.threeFullBackups(rig)
        try cluster.stop(mode: "immediate")
        try rig.standIn.set(["rate": 600, "window": 60, "keep_dir": rig.keep, "forum": true, "clock_offset": 45 * 86_400])
        let asOf = Self.moment(daysFromNow: 45)
        let log = rig.ws.file("expire.log")
        for delayMs in [100, 200, 260, 300, 340, 380, 450, 700] {
            let pid = try spawn(
                rig.ws.walvault, ["--config", rig.config, "expire", "--as-of", asOf, "--force"], asPostgres: true, stdout: log, stderr: log)
            usleep(UInt32(delayMs * 1000))
            Self.killTree(pid)
            _ = waitFor(pid)
            print("expire killed at \(delayMs) ms: \(rig.standIn.stats()["topics_deleted"] ?? 0) topics deleted so far")
            let info = try rig.walvault(["info"], config: rig.newMachineConfig)
            #expect(info.status == 0, "after a kill at \(delayMs) ms: \(info.stderr)")
            let seen = Self.backupLabels(info.stdout)
            #expect(seen.last == labels[2] && labels.suffix(seen.count).elementsEqual(seen), "after a kill at \(delayMs) ms: \(info.stdout)")
            let verify = try rig.walvault(["verify"], config: rig.newMachineConfig)
            #expect(verify.status == 0, "after a kill at \(delayMs) ms: \(verify.stdout) \(verify.stderr)")
            let plan = try rig.walvault(
                ["restore", "--pgdata", rig.ws.file("restored"), "--target", "latest", "--dry-run"], config: rig.newMachineConfig)
            #expect(plan.status == 0, "after a kill at \(delayMs) ms: \(plan.stdout) \(plan.stderr)")
        }
        let finish = try rig.walvault(["expire", "--as-of", asOf, "--force"])
        #expect(finish.status == 0, "\(finish.stdout) \(finish.stderr)")
        #expect(rig.standIn.stats()["topics_deleted"] == 2, "\(rig.standIn.stats())")
        let info = try rig.walvault(["info"], config: rig.newMachineConfig)
        #expect(Self.backupLabels(info.stdout) == [labels[2]], "\(info.stdout)")
        let verify = try rig.walvault(["verify"], config: rig.newMachineConfig)
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        // And it restores, from the chat alone.
        let newData = rig.ws.file("restored")
        let restore = try rig.walvault(["restore", "--pgdata", newData, "--target", "latest"], config: rig.newMachineConfig)
        #expect(restore.status == 0, "\(restore.stdout) \(restore.stderr)")
        let restored = PostgresCluster(workspace: rig.ws, pgdata: newData, port: rig.cluster.port)
        try restored.start()
        defer { try? restored.stop(mode: "immediate") }
        try restored.waitForPromotion()
        #expect(try restored.sql("SELECT count(*) FROM events WHERE note LIKE 'after backup 3 %'") == "100")
    }

    /// Without topics, check fails once the chat holds documents older than the window, and says
    /// how to switch. The stand-in's clock runs 40 days behind, so what it receives is dated then.
    @Test func checkFailsWhileAChatWithoutTopicsHoldsDocumentsOlderThanTheWindow() throws {
        let rig = try TelegramOffsiteTests.Rig(retentionDays: 30)
        try rig.standIn.set(["rate": 600, "window": 60, "keep_dir": rig.keep, "clock_offset": -40 * 86_400])
        let cluster = rig.cluster
        try cluster.start()
        defer { try? cluster.stop(mode: "immediate") }
        try rig.archiveNow(cluster)
        try rig.waitUntilShipped()
        let check = try rig.walvault(["check"])
        #expect(check.status == 1)
        #expect(
            check.stdout.contains("FAIL retention in \"telegram\": the chat still holds documents 40 days old, past the 30-day window"),
            "\(check.stdout)")
        #expect(check.stdout.contains("set forum_topics = true"), "\(check.stdout)")
    }
}
