import Testing
import WalvaultConfig
import WalvaultPolicy
import WalvaultTesting

@testable import WalvaultAlerts
@testable import WalvaultPolicy

@Suite struct AlertPolicyTests {
    let hour: Int64 = 3600 * 1_000_000

    @Test func aStreakAlertsAtItsThresholdOnceAndRecoversOnce() {
        var condition = AlertPolicy.Condition()
        var decisions: [AlertPolicy.Decision] = []
        for i in 0..<5 { decisions.append(AlertPolicy.failed(&condition, error: "e\(i)", threshold: 3, now: 100 + Int64(i))) }
        #expect(decisions == [.none, .none, .alert, .none, .none])
        #expect(condition.since == 100)
        #expect(condition.lastError == "e4")
        #expect(AlertPolicy.succeeded(&condition) == .recovered)
        #expect(AlertPolicy.succeeded(&condition) == .none)
        #expect(condition.failures == 0 && condition.since == nil)
    }

    @Test func aStreakBelowTheThresholdEndsSilently() {
        var condition = AlertPolicy.Condition()
        #expect(AlertPolicy.failed(&condition, error: "e", threshold: 3, now: 1) == .none)
        #expect(AlertPolicy.failed(&condition, error: "e", threshold: 3, now: 2) == .none)
        #expect(AlertPolicy.succeeded(&condition) == .none)
        #expect(AlertPolicy.failed(&condition, error: "e", threshold: 3, now: 3) == .none, "the count starts again")
    }

    @Test func noMoreThanOneAlertPerConditionPerHour() {
        var condition = AlertPolicy.Condition()
        #expect(AlertPolicy.failed(&condition, error: "e", threshold: 1, now: 0) == .alert)
        #expect(AlertPolicy.succeeded(&condition) == .recovered)
        // Failing again ten minutes later: the recovery was said, the new alert waits for the hour.
        #expect(AlertPolicy.failed(&condition, error: "e", threshold: 1, now: hour / 6) == .none)
        #expect(AlertPolicy.succeeded(&condition) == .none, "nothing was alerted for this streak")
        #expect(AlertPolicy.failed(&condition, error: "e", threshold: 1, now: hour) == .alert)
    }

    @Test(arguments: [(nil, false, true), (Int64(0), false, true), (Int64(0), true, false)] as [(Int64?, Bool, Bool)])
    func backupAge(stop: Int64?, recent: Bool, tooOld: Bool) {
        let now: Int64 = 100 * hour
        let newest = stop.map { _ in recent ? now - 27 * hour : now - 29 * hour }
        #expect(AlertPolicy.backupTooOld(newestStop: newest, now: now, maxAgeHours: 28) == tooOld)
    }
}

@Suite struct AlertMessageTests {
    let message = AlertMessage(
        status: .alert, cluster: "main", host: "db1", condition: "archive-push to store \"local\"", failures: 3,
        since: 1_795_000_000_000_000, error: "store \"local\": cannot write: No space left on device",
        lastBackupLabel: "20261123T030000Z", lastBackupStop: 1_794_990_000_000_000, databaseBytes: 2_147_483_648,
        now: 1_795_000_600_000_000)

    @Test func saysWhatWhereSinceWhenTheErrorTheLastBackupTheSizeAndWhatToCheck() {
        #expect(
            message.lines == [
                "[walvault] FAILING: archive-push to store \"local\" for main on db1 (3 times in a row)",
                "database: cluster main on db1",
                "failing: archive-push to store \"local\" since 2026-11-18 11:06:40+00 (10 min ago)",
                "error: store \"local\": cannot write: No space left on device",
                "last good backup: 20261123T030000Z, finished 2026-11-18 08:20:00+00 (2 h ago)",
                "database size (last backup): 2.0 GiB",
                "check: " + message.checkHint
            ])
        var recovered = message
        recovered.status = .recovered
        #expect(recovered.subject == "[walvault] RECOVERED: archive-push to store \"local\" for main on db1")
        #expect(!recovered.text.contains("check:"))
    }

    @Test func aFilesConditionPointsAtTheFilesBackupNotTheBaseBackup() {
        var files = message
        files.condition = "files backup of uploads"
        #expect(files.checkHint.hasPrefix("the output of walvault files backup --name uploads, that its [[storage]] path exists"))
        files.condition = "files snapshot age of uploads"
        #expect(files.checkHint.hasPrefix("that walvault-files.timer (or its cron line) still runs walvault files backup"))
        files.condition = "backup age"
        #expect(files.checkHint.contains("still runs walvault backup,"))
    }

    @Test func theEmailHasASubjectAtAGlanceAndCRLFLines() {
        let mail = String(decoding: message.email(from: "walvault@db1", to: ["a@example.com", "b@example.com"]), as: UTF8.self)
        #expect(mail.contains("\r\nSubject: [walvault] FAILING: archive-push to store \"local\" for main on db1 (3 times in a row)\r\n"))
        #expect(mail.contains("To: <a@example.com>, <b@example.com>\r\n"))
        #expect(mail.contains("Date: Wed, 18 Nov 2026 11:16:40 +0000\r\n"))
        #expect(!mail.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    }
}

@Suite struct AlertConfigTests {
    static let head = "[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"\n[alerts]\n"

    @Test func theIssuesKeysParse() throws {
        let config = try ConfigLoader.parse(
            Self.head + """
                webhook_url_env = "WALVAULT_ALERT_WEBHOOK"
                email_to = "owner@example.com, ops@example.com"
                smtp_url = "smtps://smtp.example.com:465"
                smtp_user_env = "WALVAULT_SMTP_USER"
                smtp_password_env = "WALVAULT_SMTP_PASSWORD"
                backup_max_age_hours = 30
                after_failures = 5
                """, path: "/c.toml")
        #expect(
            config.alerts
                == AlertSettings(
                    webhookURL: .environment("WALVAULT_ALERT_WEBHOOK"), emailTo: ["owner@example.com", "ops@example.com"],
                    smtpURL: "smtps://smtp.example.com:465", smtpUser: .environment("WALVAULT_SMTP_USER"),
                    smtpPassword: .environment("WALVAULT_SMTP_PASSWORD"), backupMaxAgeHours: 30, afterFailures: 5))
        #expect(try ConfigLoader.parse(Self.head, path: "/c.toml").alerts == AlertSettings())
    }

    @Test(arguments: [
        ("telegram_chat_id = \"123\"", "alerts.telegram_chat_id", "there is none"),
        ("telegram_chat_id = \"me\"", "alerts.telegram_chat_id", "not a chat id"),
        ("webhook_url_env = \"https://hooks.slack.com/services/SECRETMARKER\"", "alerts.webhook_url_env", "not an environment variable name"),
        ("email_to = \"owner\"", "alerts.email_to", "not a list of e-mail addresses"),
        ("email_to = \"owner@example.com\"", "alerts.smtp_url", "missing"),
        ("email_to = \"o@example.com\"\nsmtp_url = \"smtps://user:SECRETMARKER@smtp.example.com\"", "alerts.smtp_url", "without credentials"),
        ("email_to = \"o@example.com\"\nsmtp_url = \"https://smtp.example.com\"", "alerts.smtp_url", "not an smtp://"),
        (
            "email_to = \"o@example.com\"\nsmtp_url = \"smtp://h\"\nsmtp_password_env = \"SECRETMARKER pass\"", "alerts.smtp_password_env",
            "not an environment variable name"
        ),
        ("smtp_url = \"smtp://h\"", "alerts.smtp_url", "email_to is not"),
        ("after_failures = 0", "alerts.after_failures", "out of range"),
        ("backup_max_age_hours = 0", "alerts.backup_max_age_hours", "out of range"),
        ("slack = \"x\"", "alerts.slack", "unknown key")
    ])
    func everyMistakeIsOneLineNamingTheKey(text: String, key: String, problem: String) throws {
        do {
            _ = try ConfigLoader.parse(Self.head + text, path: "/c.toml")
            Issue.record("expected an error for \(text)")
        } catch let error as ConfigError {
            #expect(error.key == key)
            #expect(error.problem.contains(problem), "\(error)")
            #expect(!error.description.contains("SECRETMARKER"))
            #expect(!error.fix.isEmpty)
        }
    }
}

@Suite struct HealthCheckTests {
    let hour: Int64 = 3_600_000_000

    @Test func verdictsFromFigures() {
        #expect(HealthCheck.backupAge(newest: nil, now: 0, maxHours: 28).line.hasPrefix("FAIL last backup: no complete backup; run walvault backup"))
        #expect(HealthCheck.backupAge(newest: ("L", 100 * hour), now: 127 * hour, maxHours: 28).ok)
        #expect(!HealthCheck.backupAge(newest: ("L", 100 * hour), now: 129 * hour, maxHours: 28).ok)
        #expect(HealthCheck.backupAge(newest: ("L", 100 * hour), now: 129 * hour, maxHours: 28).figure == "L, 29 h old (at most 28 h)")
        #expect(HealthCheck.shippingLag(store: "b2", queued: 0, oldestSeconds: nil, maxMinutes: 60).line == "ok   shipping to \"b2\": queue empty")
        // A [[storage]] tree's newest snapshot, under the same age as base backups.
        let files = HealthCheck.filesSnapshotAge(tree: "uploads", newest: nil, now: 0, maxHours: 28)
        #expect(files.line.hasPrefix("FAIL files snapshot of uploads: no snapshot; run walvault files backup"), "\(files.line)")
        #expect(HealthCheck.filesSnapshotAge(tree: "uploads", newest: ("S", 100 * hour), now: 127 * hour, maxHours: 28).ok)
        let overdue = HealthCheck.filesSnapshotAge(tree: "uploads", newest: ("S", 100 * hour), now: 129 * hour, maxHours: 28)
        #expect(!overdue.ok && overdue.figure == "S, 29 h old (at most 28 h)" && overdue.fix != nil)
        // A Telegram chat without topics: fine until its oldest document is past the window.
        let now: Int64 = 100 * 86_400 * 1_000_000
        #expect(HealthCheck.telegramRetention(store: "tg", oldestSentAt: nil, now: now, days: 30).ok)
        #expect(HealthCheck.telegramRetention(store: "tg", oldestSentAt: 70 * 86_400, now: now, days: 30).ok)
        let stale = HealthCheck.telegramRetention(store: "tg", oldestSentAt: 60 * 86_400, now: now, days: 30)
        #expect(!stale.ok && stale.figure.contains("40 days old") && stale.fix?.contains("forum_topics = true") == true, "\(stale)")
        #expect(HealthCheck.shippingLag(store: "b2", queued: 3, oldestSeconds: 3600, maxMinutes: 60).ok)
        #expect(!HealthCheck.shippingLag(store: "b2", queued: 3, oldestSeconds: 3601, maxMinutes: 60).ok)
        #expect(HealthCheck.freeSpace(what: "pg_wal", path: "/x", free: 15, total: 100, minPercent: 15).ok)
        #expect(
            HealthCheck.freeSpace(what: "pg_wal", path: "/x", free: 149, total: 1000, minPercent: 15).line
                == "FAIL free space for pg_wal: 14 % free on /x (at least 15 %); free space there; a full pg_wal stops PostgreSQL")
    }

    @Test func thresholdsParseAndAreChecked() throws {
        let head = "[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"\n[check]\n"
        #expect(
            try ConfigLoader.parse(
                head + "backup_max_age_hours = 50\nshipping_lag_minutes = 5\nmin_free_percent = 20\nround_trip_seconds = 10\n", path: "/c.toml"
            ).check
                == CheckSettings(backupMaxAgeHours: 50, shippingLagMinutes: 5, minFreePercent: 20, roundTripSeconds: 10))
        #expect(try ConfigLoader.parse(head, path: "/c.toml").check == CheckSettings())
        for (text, key) in [
            ("min_free_percent = 100", "check.min_free_percent"), ("round_trip_seconds = 1", "check.round_trip_seconds"), ("lag = 1", "check.lag")
        ] {
            do {
                _ = try ConfigLoader.parse(head + text, path: "/c.toml")
                Issue.record("expected an error for \(text)")
            } catch let error as ConfigError {
                #expect(error.key == key)
            }
        }
    }
}
