import Synchronization
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Keeps sends to one chat below Telegram's limit (about 20 messages a minute in a group), so
/// that a busy server is slowed by walvault's own pacing rather than by 429s.
public final class TelegramPacer: Sendable {
    public let rate: Int
    public let window: Double
    private let sent = Mutex<[Double]>([])

    public init(rate: Int = 18, window: Double = 60) {
        self.rate = rate
        self.window = window
    }

    /// How long to wait before the next send, given the times of earlier sends. Pure.
    public static func delay(sent: [Double], now: Double, rate: Int, window: Double) -> Double {
        let recent = sent.filter { $0 > now - window }
        guard recent.count >= rate else { return 0 }
        return recent.sorted()[recent.count - rate] + window - now
    }

    public func waitForTurn() {
        while true {
            let wait: Double = sent.withLock { sent in
                let now = Self.now()
                sent.removeAll { $0 <= now - window }
                let wait = Self.delay(sent: sent, now: now, rate: rate, window: window)
                if wait <= 0 { sent.append(now) }
                return wait
            }
            if wait <= 0 { return }
            usleep(useconds_t(min(wait, 60) * 1_000_000))
        }
    }

    static func now() -> Double { Double(WallClock.nowMicros()) / 1_000_000 }
}
