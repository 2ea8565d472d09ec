/// One line of `walvault check`: what was checked, its figure, and when it fails, why and what
/// to do. The verdicts from figures are pure and unit-tested; `Check` gathers the figures.
public struct HealthCheck: Codable, Equatable, Sendable {
    public var name: String
    public var ok: Bool
    /// What was measured ("newest backup 3 h old", "41 % free").
    public var figure: String
    public var fix: String?

    public init(name: String, ok: Bool, figure: String, fix: String? = nil) {
        self.name = name
        self.ok = ok
        self.figure = figure
        self.fix = fix
    }

    public var line: String { "\(ok ? "ok  " : "FAIL") \(name): \(figure)" + (ok ? "" : fix.map { "; \($0)" } ?? "") }

    public static func hours(_ micros: Int64) -> String {
        let minutes = max(0, micros / 60_000_000)
        return minutes < 120 ? "\(minutes) min" : "\(minutes / 60) h"
    }

    /// A Telegram chat without forum topics keeps every document older than 48 hours (a bot may
    /// not delete them): once one is older than the retention window, retention is not what the
    /// owner set, and old backups stay readable to anyone in the chat.
    public static func telegramRetention(store: String, oldestSentAt: Int?, now: Int64, days: Int) -> HealthCheck {
        let name = "retention in \"\(store)\""
        guard let oldestSentAt else { return HealthCheck(name: name, ok: true, figure: "the chat holds no document of walvault's yet") }
        let ageDays = max(0, Int(now / 1_000_000) - oldestSentAt) / 86_400
        guard ageDays > days else {
            return HealthCheck(name: name, ok: true, figure: "the oldest document is \(ageDays) days old, within the \(days)-day window")
        }
        return HealthCheck(
            name: name, ok: false,
            figure:
                "the chat still holds documents \(ageDays) days old, past the \(days)-day window: Telegram lets a bot delete messages for 48 hours only, so expire could not",
            fix:
                "turn Topics on in the group, make the bot an administrator with Manage topics and Delete messages, and set forum_topics = true (docs/cloud-setup.md); delete the old messages in Telegram by hand"
        )
    }

    public static func backupAge(newest: (label: String, stop: Int64)?, now: Int64, maxHours: Int) -> HealthCheck {
        guard let newest else {
            return HealthCheck(
                name: "last backup", ok: false, figure: "no complete backup", fix: "run walvault backup (and schedule it nightly: postgres-conf/)")
        }
        let age = now - newest.stop
        let ok = age <= Int64(maxHours) * 3_600_000_000
        return HealthCheck(
            name: "last backup", ok: ok, figure: "\(newest.label), \(hours(age)) old (at most \(maxHours) h)",
            fix: ok ? nil : "check the backup schedule and the last backup's output")
    }

    /// A `[[storage]]` tree's newest snapshot against the same age as base backups: the files a
    /// database points at are as overdue as the database when their snapshot stops.
    public static func filesSnapshotAge(tree: String, newest: (id: String, time: Int64)?, now: Int64, maxHours: Int) -> HealthCheck {
        let name = "files snapshot of \(tree)"
        guard let newest else {
            return HealthCheck(
                name: name, ok: false, figure: "no snapshot", fix: "run walvault files backup (and schedule it: postgres-conf/walvault-files.timer)")
        }
        let age = now - newest.time
        let ok = age <= Int64(maxHours) * 3_600_000_000
        return HealthCheck(
            name: name, ok: ok, figure: "\(newest.id), \(hours(age)) old (at most \(maxHours) h)",
            fix: ok ? nil : "check the files backup schedule and the last files backup's output")
    }

    public static func shippingLag(store: String, queued: Int, oldestSeconds: Int?, maxMinutes: Int) -> HealthCheck {
        let name = "shipping to \"\(store)\""
        guard let oldest = oldestSeconds, queued > 0 else { return HealthCheck(name: name, ok: true, figure: "queue empty") }
        let ok = oldest <= maxMinutes * 60
        return HealthCheck(
            name: name, ok: ok, figure: "\(queued) objects queued, the oldest \(hours(Int64(oldest) * 1_000_000)) old (at most \(maxMinutes) min)",
            fix: ok ? nil : "see walvault info and <spool>/ship.log; walvault ship --verbose says what fails")
    }

    public static func freeSpace(what: String, path: String, free: Int, total: Int, minPercent: Int) -> HealthCheck {
        let percent = total > 0 ? Int((Double(free) / Double(total) * 100).rounded(.down)) : 0
        let ok = percent >= minPercent
        return HealthCheck(
            name: "free space for \(what)", ok: ok, figure: "\(percent) % free on \(path) (at least \(minPercent) %)",
            fix: ok ? nil : "free space there; a full pg_wal stops PostgreSQL")
    }
}
