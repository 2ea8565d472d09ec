import Synchronization
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Counts one phase's work as the threads doing it report, and turns the counts into `.progress`
/// events at most ten times a second (`interval`), plus one at the start and one at the end, so a
/// backup of a million small files costs observers a few hundred events, not a million.
public final class ProgressMeter: Sendable {
    public static let interval: Int64 = 100_000_000

    private let events: OperationObserver
    private let phase: String
    private let unit: ProgressReport.Unit
    private let total: Int64?
    private let filesTotal: Int?
    private let counting: ProgressReport.Unit?
    private let done = Atomic<Int64>(0)
    private let files = Atomic<Int>(0)
    /// Monotonic nanoseconds of the last event sent.
    private let lastSent = Atomic<Int64>(0)

    /// Sends the phase's first event (0 done).
    public init(
        events: OperationObserver, phase: String, unit: ProgressReport.Unit, total: Int64?, filesTotal: Int? = nil,
        counting: ProgressReport.Unit? = nil
    ) {
        self.counting = counting
        self.events = events
        self.phase = phase
        self.unit = unit
        self.total = total
        self.filesTotal = filesTotal
        lastSent.store(Self.now(), ordering: .relaxed)
        events.receive(.progress(report))
    }

    public func add(_ amount: Int64, files finished: Int = 0) {
        done.add(amount, ordering: .relaxed)
        if finished != 0 { files.add(finished, ordering: .relaxed) }
        let now = Self.now()
        let last = lastSent.load(ordering: .relaxed)
        guard Self.isDue(now: now, last: last),
            lastSent.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        else { return }
        events.receive(.progress(report))
    }

    /// The phase's last event, whatever the time since the one before.
    public func finish() {
        lastSent.store(Self.now(), ordering: .relaxed)
        events.receive(.progress(report))
    }

    public var report: ProgressReport {
        ProgressReport(
            phase: phase, done: done.load(ordering: .relaxed), total: total, unit: unit,
            filesDone: filesTotal == nil ? nil : files.load(ordering: .relaxed), filesTotal: filesTotal,
            counting: counting)
    }

    /// The throttle's one rule, apart from the clock so it can be tested.
    package static func isDue(now: Int64, last: Int64) -> Bool { now - last >= interval }

    private static func now() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }
}
