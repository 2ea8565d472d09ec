import Testing
import WalvaultTesting

@testable import WalvaultCatalog

/// The retention rule, case by case (issue 14 builds `walvault expire` on it).
@Suite struct ExpiryPlannerTests {
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

    func plan(
        _ backups: [ExpiryPlanner.Backup], _ segments: [WALSegmentName: Int64], incomplete: [String: Int64?] = [:],
        histories: [UInt32: TimelineHistory] = [:], days: Int = 30, now: Int64 = ExpiryPlannerTests.now
    ) -> [ExpiryPlanner.Decision] {
        ExpiryPlanner.plan(
            backups: backups, segments: segments, incomplete: incomplete, histories: histories, segmentSize: Self.size, days: days, now: now)
    }

    func kept(_ decisions: [ExpiryPlanner.Decision]) -> Set<ExpiryPlanner.Subject> { Set(decisions.filter(\.keep).map(\.subject)) }
    func deleted(_ decisions: [ExpiryPlanner.Decision]) -> Set<ExpiryPlanner.Subject> { Set(decisions.filter { !$0.keep }.map(\.subject)) }

    /// One segment a day on timeline 1, numbered by how many days ago it was archived (reversed).
    func dailyWAL(days: Int, timeline: UInt32 = 1) -> [WALSegmentName: Int64] {
        Dictionary(uniqueKeysWithValues: (0..<UInt64(days)).map { n in (segment(timeline, n), Self.now - Int64(days - 1 - Int(n)) * Self.day) })
    }

    @Test func anEmptyStoreDecidesNothing() {
        #expect(plan([], [:]).isEmpty)
    }

    @Test func oneOldBackupIsKeptWithTheWALFromItsStart() {
        let wal = dailyWAL(days: 90)
        let decisions = plan([backup("B", daysAgo: 60, start: 29)], wal)
        #expect(kept(decisions).contains(.backup("B")))
        #expect(decisions.first { $0.subject == .backup("B") }?.reason.contains("newest backup is never deleted") == true)
        #expect(deleted(decisions) == Set((0..<29).map { .segment(segment(1, $0)) }))
        #expect(kept(decisions).contains(.segment(segment(1, 29))))
        #expect(kept(decisions).contains(.segment(segment(1, 89))))
    }

    @Test func backupsOnBothSidesOfTheWindow() {
        let wal = dailyWAL(days: 90)
        let backups = [
            backup("B60", daysAgo: 60, start: 29), backup("B40", daysAgo: 40, start: 49),
            backup("B35", daysAgo: 35, start: 54), backup("B20", daysAgo: 20, start: 69), backup("B1", daysAgo: 1, start: 88)
        ]
        let decisions = plan(backups, wal)
        #expect(kept(decisions).isSuperset(of: [.backup("B1"), .backup("B20"), .backup("B35")]))
        #expect(deleted(decisions).isSuperset(of: [.backup("B60"), .backup("B40")]))
        #expect(decisions.first { $0.subject == .backup("B35") }?.reason.contains("newest backup older than the window") == true)
        // WAL from B35's start: segment 54 onward; everything before goes.
        #expect(deleted(decisions).filter { if case .segment = $0 { true } else { false } } == Set((0..<54).map { .segment(segment(1, $0)) }))
        #expect(decisions.allSatisfy { !$0.reason.isEmpty })
        #expect(decisions.count == 5 + 90)
    }

    @Test func aWindowWithOnlyOldBackupsKeepsTheNewestOnly() {
        let decisions = plan([backup("A", daysAgo: 50, start: 10), backup("B", daysAgo: 45, start: 20)], dailyWAL(days: 60))
        #expect(kept(decisions).contains(.backup("B")))
        #expect(deleted(decisions).contains(.backup("A")))
    }

    @Test func aTimelineSwitchKeepsTheAncestryAndDropsOldDeadBranches() {
        // Timeline 1: segments 0...59. Timeline 2 branched from 1 at segment 40; timeline 3 branched from 1
        // at segment 20 long ago and was abandoned.
        var wal = dailyWAL(days: 60)
        for n in UInt64(40)..<70 { wal[segment(2, n)] = Self.now - Int64(69 - Int(n)) * Self.day / 4 }
        for n in UInt64(20)..<25 { wal[segment(3, n)] = Self.now - 50 * Self.day }
        let histories: [UInt32: TimelineHistory] = [
            2: TimelineHistory(timeline: 2, ancestors: [.init(parent: 1, switchPoint: LSN(UInt64(40 * Self.size)))]),
            3: TimelineHistory(timeline: 3, ancestors: [.init(parent: 1, switchPoint: LSN(UInt64(20 * Self.size)))])
        ]
        let backups = [backup("old", daysAgo: 45, start: 15), backup("tl2", daysAgo: 2, timeline: 2, start: 60)]
        let decisions = plan(backups, wal, histories: histories)
        #expect(kept(decisions).isSuperset(of: [.backup("old"), .backup("tl2")]))
        // Timeline 1 leads to timeline 2: its WAL from the oldest kept backup's start stays.
        #expect(kept(decisions).contains(.segment(segment(1, 15))))
        #expect(kept(decisions).contains(.segment(segment(1, 45))))
        // Timeline 3 leads nowhere and is older than the window: it goes, with its reason.
        for n in UInt64(20)..<25 { #expect(deleted(decisions).contains(.segment(segment(3, n)))) }
        #expect(decisions.first { $0.subject == .segment(segment(3, 20)) }?.reason.contains("leads to no kept backup") == true)
        // Without timeline 3's history, nothing is deleted for being on a dead branch.
        let blind = plan(backups, wal, histories: [2: histories[2]!])
        for n in UInt64(20)..<25 { #expect(kept(blind).contains(.segment(segment(3, n)))) }
        // A branch that holds the newest WAL (the server runs on it now) is not dead, even before
        // any backup was taken on it, and its name sorting last does not make it newest.
        var live = wal
        live[segment(3, 25)] = Self.now + 1
        let onLive = plan(backups, live, histories: histories)
        #expect(kept(onLive).contains(.segment(segment(3, 25))))
        #expect(onLive.first { $0.subject == .segment(segment(3, 24)) }?.keep == true)
        // A dead branch archived inside the window stays (someone may want to restore onto it).
        var recent = wal
        for n in UInt64(20)..<25 { recent[segment(3, n)] = Self.now - Self.day }
        for n in UInt64(20)..<25 { #expect(kept(plan(backups, recent, histories: histories)).contains(.segment(segment(3, n)))) }
    }

    @Test func aGapInTheWALDeletesNothingAfterTheCut() {
        var wal = dailyWAL(days: 60)
        for n in UInt64(40)..<45 { wal.removeValue(forKey: segment(1, n)) }
        let decisions = plan([backup("B", daysAgo: 35, start: 20), backup("C", daysAgo: 5, start: 50)], wal)
        #expect(deleted(decisions) == Set((0..<20).map { .segment(segment(1, $0)) }))
    }

    @Test func aClockThatWentBackwardsKeeps() {
        // "now" is 10 days before the backups were taken.
        let backups = [backup("A", daysAgo: -10, start: 10), backup("B", daysAgo: -12, start: 12), backup("C", daysAgo: 100, start: 1)]
        let decisions = plan(backups, dailyWAL(days: 30))
        #expect(kept(decisions).isSuperset(of: [.backup("A"), .backup("B"), .backup("C")]), "C is the newest backup older than the window")
        #expect(decisions.first { $0.subject == .backup("A") }?.reason.contains("clock") == true)
    }

    @Test func incompleteBackupsGoAfterADay() {
        let decisions = plan(
            [backup("B", daysAgo: 1, start: 5)], dailyWAL(days: 10),
            incomplete: ["old": Self.now - 2 * Self.day, "running": Self.now - 3_600_000_000, "unknown": nil])
        #expect(deleted(decisions).contains(.incompleteBackup("old")))
        #expect(kept(decisions).isSuperset(of: [.incompleteBackup("running"), .incompleteBackup("unknown")]))
    }

    @Test func withoutAnyBackupAllWALStays() {
        let decisions = plan([], dailyWAL(days: 40))
        #expect(deleted(decisions).isEmpty)
        #expect(decisions.count == 40)
    }

    @Test func aShorterStoreWindowKeepsLess() {
        let backups = [backup("B20", daysAgo: 20, start: 69), backup("B10", daysAgo: 10, start: 79), backup("B1", daysAgo: 1, start: 88)]
        let decisions = plan(backups, dailyWAL(days: 90), days: 7)
        #expect(kept(decisions).isSuperset(of: [.backup("B1"), .backup("B10")]))
        #expect(deleted(decisions).contains(.backup("B20")))
        #expect(!kept(decisions).contains(.segment(segment(1, 78))))
        #expect(kept(decisions).contains(.segment(segment(1, 79))))
    }
}

/// When the history says each kept object goes (`ExpiryPlanner.due`).
@Suite struct ExpiryDueTests {
    let t = ExpiryPlannerTests()

    @Test func aBackupIsDueWhenTheNextOneLeavesTheWindowAndTheNewestAWindowFromNow() {
        let backups = [t.backup("OLD", daysAgo: 40, start: 2), t.backup("MID", daysAgo: 10, start: 5), t.backup("NEW", daysAgo: 1, start: 8)]
        let due = ExpiryPlanner.due(backups: backups, segments: [], segmentSize: ExpiryPlannerTests.size, days: 30, now: ExpiryPlannerTests.now)
        let day = ExpiryPlannerTests.day
        #expect(due["OLD"] == ExpiryPlannerTests.now + 20 * day, "MID leaves the window in 20 days")
        #expect(due["MID"] == ExpiryPlannerTests.now + 29 * day)
        #expect(due["NEW"] == ExpiryPlannerTests.now + 30 * day)
    }

    @Test func aSegmentIsDueWithTheLastToGoOfTheBackupsThatReplayThroughIt() {
        let backups = [t.backup("OLD", daysAgo: 40, start: 2), t.backup("NEW", daysAgo: 1, start: 8)]
        let segments = (0...10).map { t.segment(1, UInt64($0)) }
        let due = ExpiryPlanner.due(backups: backups, segments: segments, segmentSize: ExpiryPlannerTests.size, days: 30, now: ExpiryPlannerTests.now)
        #expect(due[t.segment(1, 1).description] == nil, "before every backup: it goes now")
        #expect(due[t.segment(1, 2).description] == due["OLD"])
        #expect(due[t.segment(1, 7).description] == due["OLD"])
        #expect(due[t.segment(1, 8).description] == due["NEW"])
        #expect(due[t.segment(1, 10).description] == due["NEW"])
    }

    @Test func aNextBackupAlreadyOutsideTheWindowMakesTheOlderDueNow() {
        let backups = [t.backup("A", daysAgo: 50, start: 1), t.backup("B", daysAgo: 45, start: 2), t.backup("C", daysAgo: 1, start: 3)]
        let due = ExpiryPlanner.due(backups: backups, segments: [], segmentSize: ExpiryPlannerTests.size, days: 30, now: ExpiryPlannerTests.now)
        #expect(due["A"] == ExpiryPlannerTests.now)
    }
}
