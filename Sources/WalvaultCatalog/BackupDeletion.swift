/// Whether the owner may delete one backup from one store by hand (the dashboard's Delete),
/// decided without I/O. Expire deletes only what its window no longer needs; a deletion by hand
/// may take more, but never a moment the window promises: every moment from the window's start
/// (or, without retention, from the first backup) to now must stay restorable.
///
/// A moment is restorable from the newest backup that stopped before it, replaying WAL from that
/// backup's start. So deleting B is safe when:
/// - B stopped before the window and a newer backup, also from before the window, covers the
///   window's first moments;
/// - or B stopped inside the window and the backup before it reaches every moment B covered:
///   same timeline, and every WAL segment from its start to B's start is in the store.
/// The newest backup is never deleted. Anything else is refused, with the moment it would lose.
public enum BackupDeletion {
    public enum Verdict: Equatable, Sendable {
        case allowed(because: String)
        case refused(because: String)
    }

    /// - Parameters:
    ///   - days: the store's retention window; nil: none, every moment since the first backup counts.
    ///   - segments: the segments the store holds.
    public static func verdict(
        label: String, backups: [ExpiryPlanner.Backup], segments: Set<WALSegmentName>, segmentSize: Int, days: Int?, now: Int64
    ) -> Verdict {
        let sorted = backups.sorted { ($0.stopTime, $0.label) < ($1.stopTime, $1.label) }
        guard let index = sorted.firstIndex(where: { $0.label == label }) else {
            return .refused(because: "the store holds no complete backup \(label)")
        }
        let backup = sorted[index]
        if let reader = sorted.first(where: { $0.needs.contains(label) }) {
            return .refused(because: "backup \(reader.label) reads parts of it: deleting it would break \(reader.label) and its chain")
        }
        guard index + 1 < sorted.count else {
            return .refused(because: "it is the newest backup: moments since \(describe(backup.stopTime)) restore from it")
        }
        let next = sorted[index + 1]
        let windowStart = days.map { now - Int64($0) * 86_400_000_000 }
        if let windowStart, backup.stopTime < windowStart {
            guard next.stopTime <= windowStart else {
                return .refused(
                    because:
                        "it is the newest backup from before the \(days!)-day window: moments from \(describe(windowStart)) to \(describe(next.stopTime)) restore only from it"
                )
            }
            return .allowed(because: "it stopped before the \(days!)-day window, and \(next.label), also from before it, covers the window's start")
        }
        guard index > 0 else {
            let promise = days.map { "the \($0)-day window" } ?? "no retention window (every moment since the first backup is kept)"
            return .refused(
                because:
                    "it is the oldest backup, and with \(promise) moments from \(describe(backup.stopTime)) to \(describe(next.stopTime)) restore only from it"
            )
        }
        let previous = sorted[index - 1]
        guard previous.timeline == backup.timeline else {
            return .refused(
                because:
                    "the backup before it, \(previous.label), is on timeline \(previous.timeline) and this one on \(backup.timeline): walvault refuses rather than guess whether WAL from the one reaches the other"
            )
        }
        let from = previous.startSegment.segmentNumber(segmentSize: segmentSize)
        let to = backup.startSegment.segmentNumber(segmentSize: segmentSize)
        if from <= to {
            for number in from...to {
                let segment = WALSegmentName(timeline: backup.timeline, segmentNumber: number, segmentSize: segmentSize)
                guard segments.contains(segment) else {
                    return .refused(
                        because:
                            "WAL segment \(segment) is missing, so \(previous.label) cannot replay to the moments from \(describe(backup.stopTime)) to \(describe(next.stopTime)): they restore only from this backup"
                    )
                }
            }
        }
        return .allowed(because: "\(previous.label) and the WAL after it reach every moment this backup covers")
    }

    static func describe(_ micros: Int64) -> String { RecoveryTarget.formatUTC(micros) }
}
