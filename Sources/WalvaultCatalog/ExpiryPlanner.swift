/// What `walvault expire` may delete from one store, decided without I/O: the inventory and the
/// moment in, one decision per backup, incomplete backup and WAL segment out, each with why.
///
/// The rule (issue 14): any moment of the last `days` must stay restorable. So every backup that
/// stopped inside the window is kept, and so is the newest one that stopped before it (the only way
/// to reach the window's first moments); the newest backup is never deleted; WAL is kept from the
/// oldest kept backup's start onward on every timeline that leads to a kept backup or to the newest
/// WAL. When in doubt (no usable history for a timeline, a clock that went backwards) it keeps.
public enum ExpiryPlanner {
    public struct Backup: Equatable, Sendable {
        public let label: String
        public let stopTime: Int64
        public let timeline: UInt32
        public let startSegment: WALSegmentName
        /// The earlier backups whose parts it reads (a diff's or incr's chain).
        public let needs: [String]
        public init(label: String, stopTime: Int64, timeline: UInt32, startSegment: WALSegmentName, needs: [String] = []) {
            self.label = label
            self.stopTime = stopTime
            self.timeline = timeline
            self.startSegment = startSegment
            self.needs = needs
        }

        public init(_ manifest: BackupManifest) {
            self.init(
                label: manifest.label, stopTime: manifest.stopTime, timeline: manifest.timeline, startSegment: manifest.startSegment(),
                needs: manifest.chain)
        }
    }

    public enum Subject: Equatable, Hashable, Sendable {
        case backup(String)
        case incompleteBackup(String)
        case segment(WALSegmentName)
    }

    public struct Decision: Equatable, Sendable {
        public let subject: Subject
        public let keep: Bool
        public let reason: String
    }

    /// - Parameters:
    ///   - segments: every archived segment with its archive time (µs).
    ///   - incomplete: labels of backups without a manifest, with their start time when known.
    ///   - histories: readable timeline histories; a timeline above 1 without one makes every
    ///     timeline count as leading somewhere (nothing is deleted for being on a dead branch).
    ///   - segmentSize: bytes per segment, to compare positions across timelines.
    ///   - neededElsewhere: backups another store's backups read parts of, with one that does: kept
    ///     whatever the window says (a chain may span stores).
    public static func plan(
        backups: [Backup], segments: [WALSegmentName: Int64], incomplete: [String: Int64?],
        histories: [UInt32: TimelineHistory], segmentSize: Int, days: Int, now: Int64, neededElsewhere: [String: String] = [:]
    ) -> [Decision] {
        let windowStart = now - Int64(days) * 86_400_000_000
        var decisions: [Decision] = []

        // Backups, newest first.
        let sorted = backups.sorted { ($0.stopTime, $0.label) > ($1.stopTime, $1.label) }
        var kept: [Backup] = []
        var keptOneBeforeWindow = false
        for (index, backup) in sorted.enumerated() {
            let reason: String?
            if index == 0 {
                reason = "the newest backup is never deleted"
            } else if backup.stopTime > now {
                reason = "it stopped after \(describe(now)) (a clock that went backwards?), so it is treated as new"
            } else if backup.stopTime >= windowStart {
                reason = "it stopped inside the \(days)-day window"
            } else if !keptOneBeforeWindow {
                reason = "the newest backup older than the window: moments from \(describe(windowStart)) to the next backup restore from it"
            } else {
                reason = nil
            }
            if backup.stopTime < windowStart, reason != nil { keptOneBeforeWindow = true }
            if let reason {
                kept.append(backup)
                decisions.append(Decision(subject: .backup(backup.label), keep: true, reason: reason))
            } else {
                decisions.append(
                    Decision(
                        subject: .backup(backup.label), keep: false,
                        reason: "stopped \(describe(backup.stopTime)), before the window, and a newer backup older than the window covers its place"))
            }
        }
        // A backup that a kept one reads parts of stays as long as that one does. Its WAL does not
        // (the kept one replays from its own start), so the WAL cutoff below ignores it.
        var readBy: [String: String] = neededElsewhere
        for backup in kept.sorted(by: { $0.label < $1.label }) {
            for label in backup.needs where readBy[label] == nil { readBy[label] = backup.label }
        }
        for index in decisions.indices {
            guard case .backup(let label) = decisions[index].subject, !decisions[index].keep, let reader = readBy[label] else { continue }
            decisions[index] = Decision(
                subject: .backup(label), keep: true,
                reason: "backup \(reader), which is kept, reads parts of it: it stays as long as that chain does")
        }

        for (label, started) in incomplete.sorted(by: { $0.key < $1.key }) {
            if let started, now - started > 86_400_000_000 {
                decisions.append(
                    Decision(
                        subject: .incompleteBackup(label), keep: false,
                        reason: "parts without a manifest, started more than a day ago: an interrupted backup"))
            } else {
                decisions.append(
                    Decision(
                        subject: .incompleteBackup(label), keep: true,
                        reason: "parts without a manifest, started less than a day ago (or at an unknown time): it may still be running"))
            }
        }

        // WAL.
        // The newest WAL is the last archived, not the highest name (names sort by timeline first).
        let newestSegment = segments.max {
            ($0.value, $0.key.segmentNumber(segmentSize: segmentSize)) < ($1.value, $1.key.segmentNumber(segmentSize: segmentSize))
        }?.key
        let targets = Set(kept.map(\.timeline) + (newestSegment.map { [$0.timeline] } ?? []))
        let historiesComplete = Set(segments.keys.map(\.timeline) + backups.map(\.timeline)).allSatisfy { $0 == 1 || histories[$0] != nil }
        func leadsToKept(_ timeline: UInt32) -> Bool {
            guard historiesComplete else { return true }
            return targets.contains { target in
                target == timeline || (histories[target]?.ancestors.contains { $0.parent == timeline } ?? false)
            }
        }
        let cutoff = kept.map { $0.startSegment.segmentNumber(segmentSize: segmentSize) }.min()
        for (segment, archivedAt) in segments.sorted(by: { $0.key < $1.key }) {
            let position = segment.segmentNumber(segmentSize: segmentSize)
            guard let cutoff else {
                decisions.append(
                    Decision(subject: .segment(segment), keep: true, reason: "there is no complete backup: WAL is kept until there is one"))
                continue
            }
            if position < cutoff {
                decisions.append(Decision(subject: .segment(segment), keep: false, reason: "before the start of the oldest kept backup"))
            } else if leadsToKept(segment.timeline) {
                decisions.append(
                    Decision(
                        subject: .segment(segment), keep: true, reason: "on timeline \(segment.timeline), from the oldest kept backup's start on"))
            } else if archivedAt >= windowStart {
                decisions.append(
                    Decision(
                        subject: .segment(segment), keep: true,
                        reason: "on timeline \(segment.timeline), which leads to no kept backup, but archived inside the window"))
            } else {
                decisions.append(
                    Decision(
                        subject: .segment(segment), keep: false,
                        reason: "on timeline \(segment.timeline), which leads to no kept backup nor to the newest WAL, archived before the window"))
            }
        }
        return decisions
    }

    /// When each backup and segment is due to go under the same rule, if no backup is taken
    /// meanwhile: a backup when the next newer one leaves the window (the newest: a window from
    /// now, a moment that moves with every run); a segment with the last to go of the backups that
    /// start at or before it (every one of them replays through it). Segments before every backup
    /// are not named (they go now). What the history's `expires_at` says.
    public static func due(backups: [Backup], segments: [WALSegmentName], segmentSize: Int, days: Int, now: Int64) -> [String: Int64] {
        let window = Int64(days) * 86_400_000_000
        let sorted = backups.sorted { ($0.stopTime, $0.label) < ($1.stopTime, $1.label) }
        var due: [String: Int64] = [:]
        for (index, backup) in sorted.enumerated() {
            due[backup.label] = index + 1 < sorted.count ? max(sorted[index + 1].stopTime + window, now) : now + window
        }
        // A full (or diff) lives as long as the last backup that reads parts of it.
        for backup in sorted {
            for label in backup.needs where due[label] != nil { due[label] = max(due[label]!, due[backup.label]!) }
        }
        let starts = sorted.map { (position: $0.startSegment.segmentNumber(segmentSize: segmentSize), due: due[$0.label]!) }
        for segment in segments {
            let position = segment.segmentNumber(segmentSize: segmentSize)
            if let last = starts.filter({ $0.position <= position }).map(\.due).max() { due[segment.description] = last }
        }
        return due
    }

    static func describe(_ micros: Int64) -> String { RecoveryTarget.formatUTC(micros) }
}
