import Synchronization

/// Failed logins per client address, with a wait that doubles with each failure (1 s, 2 s, 4 s, …
/// up to 15 minutes) before that address may try again. A success clears the address. Times are
/// seconds from the server's clock, passed in, so the rule is tested without waiting.
public final class LoginThrottle: Sendable {
    private struct Record {
        var failures: Int
        var blockedUntil: Int64
    }

    public static let maximumWait: Int64 = 900
    private let records = Mutex<[String: Record]>([:])

    public init() {}

    /// Seconds this address must still wait; 0: it may try now.
    public func wait(for address: String, now: Int64) -> Int64 {
        records.withLock { max(0, ($0[address]?.blockedUntil ?? 0) - now) }
    }

    /// - Returns: the seconds the next attempt from this address must wait.
    @discardableResult
    public func failed(_ address: String, now: Int64) -> Int64 {
        records.withLock { records in
            var record = records[address] ?? Record(failures: 0, blockedUntil: 0)
            record.failures += 1
            let wait = min(Self.maximumWait, Int64(1) << min(record.failures - 1, 20))
            record.blockedUntil = now + wait
            records[address] = record
            // An attacker rotating addresses must not grow this without bound.
            if records.count > 10_000 { records = records.filter { $0.value.blockedUntil > now } }
            return wait
        }
    }

    public func succeeded(_ address: String) {
        _ = records.withLock { $0.removeValue(forKey: address) }
    }
}
