/// The WAL a restore needs, worked out before anything is written: which timeline recovery
/// ends on, and the segments from the backup's start to the target on each timeline of the way.
public struct WALPlan: Equatable, Sendable {
    public struct Range: Equatable, Sendable {
        public let timeline: UInt32
        public let first: WALSegmentName
        public let last: WALSegmentName
        public let count: Int

        public init(timeline: UInt32, first: WALSegmentName, last: WALSegmentName, count: Int) {
            self.timeline = timeline
            self.first = first
            self.last = last
            self.count = count
        }
    }

    public let targetTimeline: UInt32
    public let ranges: [Range]
    /// The timelines recovery passes through, oldest first.
    public let timelines: [UInt32]
    /// Whether `targetTimeline` is also the newest timeline with a history in the stores, which is
    /// what `recovery_target_timeline = 'latest'` makes PostgreSQL follow. When it is not (a newer
    /// timeline branched off before this backup, or its history is unreadable), recovery must be
    /// pinned to `targetTimeline`, or PostgreSQL would follow another timeline than the one planned.
    public let followsNewestTimeline: Bool
    /// Timeline histories the plan was made without, with why they could not be read.
    public let ignoredHistories: [UInt32: String]

    public var segmentCount: Int { ranges.reduce(0) { $0 + $1.count } }
}

/// Pure planning over what the stores hold; `WALPlanner.plan` is exhaustively unit-tested.
public enum WALPlanner {
    /// - Parameters:
    ///   - histories: every timeline history file in the stores, by timeline.
    ///   - archived: every archived segment, with when it was archived (µs since the epoch).
    ///   - unreadableHistories: history files in the stores that could not be read or parsed, by
    ///     timeline, with the reason. The plan goes around them unless the target may lie on them.
    public static func plan(
        backup: BackupManifest, target: RecoveryTarget, histories: [UInt32: TimelineHistory],
        archived: [WALSegmentName: Int64], unreadableHistories: [UInt32: String] = [:]
    ) throws -> WALPlan {
        let size = backup.walSegmentSize
        let base = backup.timeline
        let stopNumber = backup.stopLSN.previousByteSegmentNumber(segmentSize: size)

        // recovery_target_timeline = 'latest': the newest timeline that branched off the
        // backup's timeline after the backup became consistent.
        var targetTimeline = base
        for (timeline, history) in histories where timeline > targetTimeline {
            if let point = history.switchPoint(leaving: base), point >= backup.stopLSN { targetTimeline = timeline }
        }
        try checkUnreadableHistories(unreadableHistories, beyond: targetTimeline, target: target, histories: histories, archived: archived)
        let newestHistory = (Array(histories.keys) + Array(unreadableHistories.keys)).max() ?? base

        var legs: [(timeline: UInt32, from: LSN, to: LSN?)] = []
        if targetTimeline == base {
            legs = [(base, backup.startLSN, nil)]
        } else {
            let path = histories[targetTimeline]!.path
            let index = path.firstIndex { $0.timeline == base }!
            var from = backup.startLSN
            for leg in path[index...] {
                legs.append((leg.timeline, from, leg.end))
                if let end = leg.end { from = end }
            }
        }

        var ranges: [WALPlan.Range] = []
        func name(_ timeline: UInt32, _ number: UInt64) -> WALSegmentName {
            WALSegmentName(timeline: timeline, segmentNumber: number, segmentSize: size)
        }
        func record(_ timeline: UInt32, _ first: UInt64, _ last: UInt64?) {
            guard let last else { return }
            ranges.append(.init(timeline: timeline, first: name(timeline, first), last: name(timeline, last), count: Int(last - first + 1)))
        }
        func finish() -> WALPlan {
            WALPlan(
                targetTimeline: targetTimeline, ranges: ranges, timelines: legs.map(\.timeline),
                followsNewestTimeline: newestHistory <= targetTimeline, ignoredHistories: unreadableHistories)
        }
        for leg in legs {
            let first = leg.from.segmentNumber(segmentSize: size)
            // At a switch, the segment holding the switch point is read from the new timeline.
            let end = leg.to.map { $0.segmentNumber(segmentSize: size) }
            var number = first
            var last: UInt64?
            while end.map({ number < $0 }) ?? true {
                let segment = name(leg.timeline, number)
                if let archivedAt = archived[segment] {
                    last = number
                    if case .time(let t) = target, archivedAt >= t, number >= stopNumber || leg.timeline != base {
                        // This segment was complete only after the target: the target lies in it or before.
                        record(leg.timeline, first, last)
                        return finish()
                    }
                    number += 1
                    continue
                }
                let isFinalLeg = leg.to == nil
                let laterExists = archived.keys.contains { $0.timeline == leg.timeline && $0.segmentNumber(segmentSize: size) > number }
                if !isFinalLeg || (leg.timeline == base && number <= stopNumber) || laterExists {
                    throw CatalogError(
                        problem:
                            "WAL segment \(segment) is in no store, so backup \(backup.label) cannot be replayed past \(last.map { name(leg.timeline, $0).description } ?? "its start")",
                        fix: "find the segment (pg_wal of the old server, another store) and archive it, or choose an earlier target")
                }
                if case .time(let t) = target {
                    let newest = archived.filter { $0.key.timeline == leg.timeline }.max { $0.value < $1.value }
                    throw CatalogError(
                        problem:
                            "no archived WAL reaches the target \(RecoveryTarget.formatUTC(t)): the newest segment on timeline \(leg.timeline)\(newest.map { ", \($0.key), was archived at \(RecoveryTarget.formatUTC($0.value))" } ?? " is older")",
                        fix:
                            "wait until the server archives more WAL (archive_timeout), or choose the end of the archive (restore --target latest; drill without --target-time)"
                    )
                }
                record(leg.timeline, first, last)
                return finish()
            }
            record(leg.timeline, first, last)
        }
        return finish()
    }

    /// A timeline whose history cannot be read cannot be followed: where it branched is unknown.
    /// It only matters when the target may lie on it: `latest` when WAL was archived on it, or a
    /// time after WAL on it was archived. Otherwise the plan is made without it.
    static func checkUnreadableHistories(
        _ unreadable: [UInt32: String], beyond targetTimeline: UInt32,
        target: RecoveryTarget, histories: [UInt32: TimelineHistory],
        archived: [WALSegmentName: Int64]
    ) throws {
        for (timeline, reason) in unreadable.sorted(by: { $0.key < $1.key }) where timeline > targetTimeline {
            // WAL on this timeline, or on a later one that may descend from it.
            let onIt = archived.filter { segment, _ in
                segment.timeline == timeline
                    || (segment.timeline > timeline
                        && histories[segment.timeline].map { $0.switchPoint(leaving: timeline) != nil } ?? true)
            }
            let needed: Bool
            switch target {
            case .latest: needed = !onIt.isEmpty
            case .time(let t): needed = onIt.values.contains { $0 <= t }
            }
            guard needed else { continue }
            let file = WALFileName.history(timeline: timeline).description
            throw CatalogError(
                problem:
                    "the target may lie on timeline \(timeline), whose history \(file) cannot be used (\(reason)), so restore cannot tell where that timeline began",
                fix:
                    "replace the stored \(file) with the server's pg_wal/\(file) if it still exists, or choose a --target-time before timeline \(timeline) began"
            )
        }
    }
}
