import Foundation
import Testing
import WalvaultTesting

/// Alerts from the real executable to a real Telegram stand-in, webhook receiver and SMTP server
/// (aiosmtpd, login required), all on loopback.
@Suite(.serialized) struct AlertTests {
    @Test func aFailingStoreAlertsOnceAfterItsThresholdAndOnceWhenItRecovers() throws {
        let ws = try Workspace()
        let standIn = try TelegramStandIn(token: "5151:TOKENMARKER-\(UUID().uuidString.prefix(6))")
        let password = "SMTPPASSWORDMARKER-" + UUID().uuidString
        let sinks = try AlertSinks(user: "alerts@example.com", password: password)
        // initdb's first segment: a real WAL file for archive-push.
        let cluster = PostgresCluster(workspace: ws, name: "pgdata")
        try cluster.initdb(settings: [:])
        let segment = ws.file("pgdata/pg_wal/000000010000000000000001")
        let store = ws.file("store-not-mounted")
        let token = try ws.write("bot-token", standIn.token + "\n")
        let config = try ws.write(
            "walvault.toml",
            """
            [cluster]
            name = "main"
            spool = "\(try ws.mkdir("spool"))"
            [[stores]]
            name = "local"
            type = "local"
            path = "\(store)"
            [[stores]]
            name = "telegram"
            type = "telegram"
            api_base = "\(standIn.apiBase)"
            bot_token_file = "\(token)"
            chat_id = "\(standIn.chatID)"
            [alerts]
            telegram_chat_id = "\(standIn.chatID)"
            webhook_url_env = "WALVAULT_TEST_WEBHOOK"
            email_to = "owner@example.com"
            smtp_url = "smtp://127.0.0.1:\(sinks.smtpPort)"
            smtp_user_env = "WALVAULT_TEST_SMTP_USER"
            smtp_password_env = "WALVAULT_TEST_SMTP_PASSWORD"
            after_failures = 3
            backup_max_age_hours = 28
            """)
        var environment = ProcessInfo.processInfo.environment
        environment["WALVAULT_TEST_WEBHOOK"] = "http://127.0.0.1:\(sinks.webhookPort)/hooks/WEBHOOKTOKENMARKER"
        environment["WALVAULT_TEST_SMTP_USER"] = "alerts@example.com"
        environment["WALVAULT_TEST_SMTP_PASSWORD"] = password
        func walvault(_ arguments: [String]) throws -> ProcessResult {
            try run(ws.walvault, ["--config", config] + arguments, environment: environment)
        }
        var outputs: [String] = []

        // Four failures in a row: one alert, on every channel, at the third.
        for attempt in 1...4 {
            let push = try walvault(["archive-push", segment])
            outputs += [push.stdout, push.stderr]
            #expect(push.status != 0)
            let expected = attempt >= 3 ? 1 : 0
            #expect(standIn.texts().count == expected, "after failure \(attempt): \(standIn.texts())")
            #expect(sinks.received("webhook").count == expected)
            #expect(sinks.received("mail").count == expected)
        }
        let alert = try #require(standIn.texts().first)
        #expect(alert.hasPrefix("[walvault] FAILING: archive-push to store \"local\" for main on "))
        #expect(alert.contains("(3 times in a row)"))
        #expect(alert.contains("error: store \"local\""))
        #expect(alert.contains("last good backup: none"))
        #expect(alert.contains("check: that the store is mounted"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(sinks.received("webhook")[0].utf8)) as? [String: String])
        #expect(json["status"] == "alert")
        #expect(json["condition"] == "archive-push to store \"local\"")
        #expect(json["text"] == alert)
        let mail = sinks.received("mail")[0]
        #expect(mail.contains("RCPT TO: owner@example.com"))
        #expect(mail.contains("Subject: [walvault] FAILING: archive-push to store \"local\""))

        // The store comes back: one recovery message each, and silence after.
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: false)
        for _ in 1...2 {
            let push = try walvault(["archive-push", segment])
            outputs += [push.stdout, push.stderr]
            #expect(push.status == 0, "\(push.stderr)")
        }
        #expect(standIn.texts().count == 2)
        #expect(standIn.texts().last?.hasPrefix("[walvault] RECOVERED: archive-push to store \"local\"") == true)
        #expect(sinks.received("webhook").count == 2)
        #expect(sinks.received("mail").last?.contains("Subject: [walvault] RECOVERED:") == true)

        // A failed backup is said at once (no conninfo here), and so is having no backup at all.
        let backup = try walvault(["backup"])
        outputs += [backup.stdout, backup.stderr]
        #expect(backup.status != 0)
        #expect(standIn.texts().contains { $0.hasPrefix("[walvault] FAILING: backup for main") })
        #expect(standIn.texts().contains { $0.hasPrefix("[walvault] FAILING: backup age for main") && $0.contains("there is no complete backup") })
        // Within the hour, the same failure again sends nothing more.
        let count = standIn.texts().count
        outputs.append(try walvault(["backup"]).stderr)
        #expect(standIn.texts().count == count)

        // No secret anywhere walvault wrote: not the token, the webhook's URL or the SMTP password.
        let received = standIn.texts() + sinks.received("webhook") + sinks.received("mail")
        for text in outputs + received {
            #expect(!text.contains("TOKENMARKER"))
            #expect(!text.contains("WEBHOOKTOKENMARKER"))
            #expect(!text.contains(password))
        }
    }

    @Test func anUnreachableChannelIsOneWarningAndTheExitStatusStands() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        // A spool of its own: without one the alert state is shared by every cluster named "main".
        let config = try ws.write(
            "walvault.toml",
            """
            [cluster]
            name = "main"
            spool = "\(try ws.mkdir("spool"))"
            [[stores]]
            name = "local"
            type = "local"
            path = "\(store)"
            [alerts]
            webhook_url_env = "WALVAULT_TEST_WEBHOOK"
            after_failures = 1
            """)
        var environment = ProcessInfo.processInfo.environment
        environment["WALVAULT_TEST_WEBHOOK"] = "http://127.0.0.1:9/WEBHOOKTOKENMARKER"
        let backup = try run(ws.walvault, ["--config", config, "backup"], environment: environment)
        #expect(backup.status == 1)
        #expect(
            backup.stderr.contains("warning: the alert was not sent to the webhook: POST the webhook in $WALVAULT_TEST_WEBHOOK failed"),
            "\(backup.stderr)")
        #expect(!backup.stderr.contains("WEBHOOKTOKENMARKER"))
        #expect(backup.stderr.split(separator: "\n").allSatisfy { $0.hasPrefix("walvault ") })
    }
}
