import Testing

@testable import WalvaultCatalog

/// The dashboard's Delete, case by case: it never takes a moment the window promises.
@Suite struct BackupDeletionTests {
    static let day: Int64 = 86_400_000_000
    static let now: Int64 = 1_795_000_000_000_000
    static let size = 16 << 20

    func segment(_ timeline: UInt32, _ number: UInt64) -> WALSegmentName {
        WALSegmentName(timeline: timeline, segmentNumber: number, segmentSize: Self.size)
    }

    func backup(_ label: String, daysAgo: Double, timeline: UInt32 = 1, start: UInt64) -> ExpiryPlanner.Backup {
        ExpiryPlanner.Backup(
            label: label, stopTime: Self.now - Int64(daysAgo * Double(Self.day)), timeline: timeline, startSegment: segment(timeline, start))
    }

    func verdict(
        _ label: String, _ backups: [ExpiryPlanner.Backup], segments: Set<WALSegmentName>? = nil, days: Int? = 30
    ) -> BackupDeletion.Verdict {
        let all = segments ?? Set((0...100).map { segment(1, $0) })
        return BackupDeletion.verdict(label: label, backups: backups, segments: all, segmentSize: Self.size, days: days, now: Self.now)
    }

    func isAllowed(_ verdict: BackupDeletion.Verdict) -> Bool {
        if case .allowed = verdict { return true }
        return false
    }

    func reason(_ verdict: BackupDeletion.Verdict) -> String {
        switch verdict {
        case .allowed(let because), .refused(let because): because
        }
    }

    let three = [
        ExpiryPlanner.Backup(label: "A", stopTime: now - 20 * day, timeline: 1, startSegment: WALSegmentName(timeline: 1, log: 0, segment: 10)),
        ExpiryPlanner.Backup(label: "B", stopTime: now - 10 * day, timeline: 1, startSegment: WALSegmentName(timeline: 1, log: 0, segment: 40)),
        ExpiryPlanner.Backup(label: "C", stopTime: now - 1 * day, timeline: 1, startSegment: WALSegmentName(timeline: 1, log: 0, segment: 80))
    ]

    @Test func theNewestIsNeverDeleted() {
        let refused = verdict("C", three)
        #expect(!isAllowed(refused) && reason(refused).hasPrefix("it is the newest backup"))
        #expect(!isAllowed(verdict("only", [backup("only", daysAgo: 1, start: 1)])))
    }

    @Test func theOldestInsideTheWindowIsTheOnlyWayToItsMoments() {
        let refused = verdict("A", three)
        #expect(!isAllowed(refused) && reason(refused).hasPrefix("it is the oldest backup"))
        // Without retention every moment since the first backup is promised.
        #expect(!isAllowed(verdict("A", three, days: nil)))
        #expect(reason(verdict("A", three, days: nil)).contains("no retention window"))
    }

    @Test func oneInsideTheWindowGoesWhenTheOneBeforeReachesItsMomentsThroughUnbrokenWAL() {
        #expect(isAllowed(verdict("B", three)))
        #expect(isAllowed(verdict("B", three, days: nil)))
        // A missing segment between A's start and B's start: only B reaches the moments after it.
        var holed = Set((0...100).map { segment(1, $0) })
        holed.remove(segment(1, 25))
        let refused = verdict("B", three, segments: holed)
        #expect(!isAllowed(refused) && reason(refused).contains("000000010000000000000019 is missing"), "\(reason(refused))")
        // B's own start segment missing is a hole too; a hole after B's start is B's problem as much as A's.
        holed = Set((0...100).map { segment(1, $0) })
        holed.remove(segment(1, 40))
        #expect(!isAllowed(verdict("B", three, segments: holed)))
        holed = Set((0...100).map { segment(1, $0) })
        holed.remove(segment(1, 41))
        #expect(isAllowed(verdict("B", three, segments: holed)))
    }

    @Test func aTimelineSwitchBetweenThemIsRefusedRatherThanGuessed() {
        let switched = [three[0], backup("B", daysAgo: 10, timeline: 2, start: 40), backup("C", daysAgo: 1, timeline: 2, start: 80)]
        let refused = verdict("B", switched, segments: Set((0...100).flatMap { [segment(1, $0), segment(2, $0)] }))
        #expect(!isAllowed(refused) && reason(refused).contains("timeline 1"))
    }

    @Test func beforeTheWindowOnlyTheNewestSuchBackupIsNeeded() {
        let old = [
            backup("old1", daysAgo: 50, start: 1), backup("old2", daysAgo: 40, start: 5), backup("in", daysAgo: 5, start: 60),
            backup("new", daysAgo: 1, start: 90)
        ]
        #expect(isAllowed(verdict("old1", old)), "old2 covers the window's start")
        let refused = verdict("old2", old)
        #expect(!isAllowed(refused) && reason(refused).contains("newest backup from before the 30-day window"))
        // A backup that stops exactly at the window's start covers it.
        let edge = [backup("x", daysAgo: 31, start: 1), backup("y", daysAgo: 30, start: 5), backup("z", daysAgo: 1, start: 50)]
        #expect(isAllowed(verdict("x", edge)))
    }

    @Test func anUnknownLabelIsRefused() {
        #expect(reason(verdict("nope", three)) == "the store holds no complete backup nope")
    }

    @Test func labelsAreOnlyTheOnesWalvaultMakes() {
        for good in ["20261204T031500Z", "20261204T031500Z-2", "20261204T031500Z-10"] { #expect(BackupLabel.isValid(good), "\(good)") }
        for bad in [
            "", "../x", "20261204T031500Z/../x", "20261204T031500Z-", "20261204T031500Z-a", "20261204T031500Z-1-2", "2026120T031500Z", "latest"
        ] {
            #expect(!BackupLabel.isValid(bad), "\(bad)")
        }
    }
}
