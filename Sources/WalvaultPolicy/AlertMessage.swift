/// What an alert says, the same on every channel: which database, what failed and since when,
/// the error, the last good backup and its age, the database's size, and what to check. Pure,
/// and built only from facts that hold no secret (errors never carry tokens or passwords).
public struct AlertMessage: Equatable, Sendable {
    public enum Status: String, Sendable { case alert, recovered, notice }

    public var status: Status
    public var cluster: String
    public var host: String
    /// "archive-push to store \"local\"", "ship to store \"telegram\"", "backup", "restore", "backup age".
    public var condition: String
    public var failures: Int
    public var since: Int64?
    public var error: String?
    public var lastBackupLabel: String?
    public var lastBackupStop: Int64?
    public var databaseBytes: Int?
    public var now: Int64

    public init(
        status: Status, cluster: String, host: String, condition: String, failures: Int, since: Int64?, error: String?,
        lastBackupLabel: String?, lastBackupStop: Int64?, databaseBytes: Int?, now: Int64
    ) {
        self.status = status
        self.cluster = cluster
        self.host = host
        self.condition = condition
        self.failures = failures
        self.since = since
        self.error = error
        self.lastBackupLabel = lastBackupLabel
        self.lastBackupStop = lastBackupStop
        self.databaseBytes = databaseBytes
        self.now = now
    }

    /// The status at a glance (the e-mail's subject, the first line elsewhere).
    public var subject: String {
        switch status {
        case .alert: return "[walvault] FAILING: \(condition) for \(cluster) on \(host)" + (failures > 1 ? " (\(failures) times in a row)" : "")
        case .recovered: return "[walvault] RECOVERED: \(condition) for \(cluster) on \(host)"
        case .notice: return "[walvault] NOTICE: \(condition) for \(cluster) on \(host)"
        }
    }

    public var checkHint: String {
        if condition.hasPrefix("archive-push") {
            return
                "that the store is mounted or reachable and has free space; pg_stat_archiver and walvault's lines in the PostgreSQL log. PostgreSQL keeps the WAL until archiving works again, so watch pg_wal's disk."
        }
        if condition.hasPrefix("ship") {
            return
                "the network to the store and its credentials; walvault info shows the queue and its age. Every segment is still in the sync store."
        }
        if condition.hasPrefix("files backup of ") {
            let tree = condition.dropFirst("files backup of ".count)
            return
                "the output of walvault files backup --name \(tree), that its [[storage]] path exists and is readable, and free space in the stores."
        }
        if condition.hasPrefix("files snapshot age of ") {
            return
                "that walvault-files.timer (or its cron line) still runs walvault files backup, and its last output (journalctl -u walvault-files)."
        }
        switch condition {
        case "backup": return "the backup's output (walvault backup --verbose), the server's connection settings, and free space in the stores."
        case "restore": return "the restore's output; walvault restore --dry-run shows the plan without writing."
        default: return "that the backup schedule (cron or the systemd timer) still runs walvault backup, and its last output."
        }
    }

    public static func age(_ micros: Int64) -> String {
        let minutes = max(0, micros / 60_000_000)
        if minutes < 120 { return "\(minutes) min" }
        let hours = minutes / 60
        return hours < 72 ? "\(hours) h" : "\(hours / 24) days"
    }

    public static func size(_ bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) bytes" : "\(Int(value * 10) / 10).\(Int(value * 10) % 10) \(units[unit])"
    }

    public var lines: [String] {
        var lines = [subject]
        lines.append("database: cluster \(cluster) on \(host)")
        if status == .notice {
            lines.append("notice: \(condition)")
            if let error { lines.append(error) }
        } else if status == .alert {
            lines.append("failing: \(condition)" + (since.map { " since \(Self.utc($0)) (\(Self.age(now - $0)) ago)" } ?? ""))
            if let error { lines.append("error: \(error)") }
        } else {
            lines.append("working again: \(condition)" + (since.map { " (failing since \(Self.utc($0)))" } ?? ""))
        }
        if let label = lastBackupLabel, let stop = lastBackupStop {
            lines.append("last good backup: \(label), finished \(Self.utc(stop)) (\(Self.age(now - stop)) ago)")
        } else {
            lines.append("last good backup: none")
        }
        if let databaseBytes { lines.append("database size (last backup): \(Self.size(databaseBytes))") }
        if status == .alert { lines.append("check: \(checkHint)") }
        return lines
    }

    public var text: String { lines.joined(separator: "\n") }

    public static func utc(_ micros: Int64) -> String { UTCCalendar(micros: micros).postgresText }

    /// An RFC 5322 message, CRLF line ends, UTF-8 text.
    public func email(from: String, to: [String]) -> [UInt8] {
        var body = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasPrefix(".") ? "." + $0 : String($0) }
        body.append("")
        let headers = [
            "From: walvault <\(from)>",
            "To: " + to.map { "<\($0)>" }.joined(separator: ", "),
            "Subject: " + subject,
            "Date: " + UTCCalendar(micros: now).rfc5322Text,
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            ""
        ]
        return Array((headers + body).joined(separator: "\r\n").utf8)
    }
}
