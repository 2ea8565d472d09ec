/// When to alert, without I/O: a condition ("archive-push to store \"local\"", "backup", "backup
/// age") alerts after `threshold` failures in a row, at most once an hour, and once more when it
/// recovers. Unit-tested case by case; `Notifier` keeps the state in a file and sends.
public enum AlertPolicy {
    public static let minimumInterval: Int64 = 3600 * 1_000_000

    public struct Condition: Codable, Equatable, Sendable {
        public var failures = 0
        /// First failure of this streak (µs).
        public var since: Int64?
        public var lastError: String?
        /// An alert went out for this streak: its end gets a recovery message.
        public var alerted = false
        public var lastAlertAt: Int64?

        public init() {}
    }

    public enum Decision: Equatable, Sendable {
        case none
        case alert
        case recovered
    }

    public static func failed(_ condition: inout Condition, error: String, threshold: Int, now: Int64) -> Decision {
        condition.failures += 1
        condition.since = condition.since ?? now
        condition.lastError = error
        guard condition.failures >= threshold else { return .none }
        if let last = condition.lastAlertAt, now - last < minimumInterval { return .none }
        condition.alerted = true
        condition.lastAlertAt = now
        return .alert
    }

    public static func succeeded(_ condition: inout Condition) -> Decision {
        let decision: Decision = condition.alerted ? .recovered : .none
        condition.failures = 0
        condition.since = nil
        condition.lastError = nil
        condition.alerted = false
        return decision
    }

    /// Whether the newest complete backup is too old; nil stop time means there is none.
    public static func backupTooOld(newestStop: Int64?, now: Int64, maxAgeHours: Int) -> Bool {
        guard let newestStop else { return true }
        return now - newestStop > Int64(maxAgeHours) * 3600 * 1_000_000
    }
}
