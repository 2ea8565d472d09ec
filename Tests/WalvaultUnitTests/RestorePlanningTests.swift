import Testing
import WalvaultCatalog
import WalvaultTesting

let mib16 = 16 << 20

func manifest(_ label: String, timeline: UInt32 = 1, start: UInt64, stop: UInt64, stopTime: Int64) -> BackupManifest {
    BackupManifest(
        label: label, cluster: "main", systemIdentifier: "1", postgresVersion: 150000, walSegmentSize: mib16,
        timeline: timeline, startLSN: LSN(start), stopLSN: LSN(stop), startTime: stopTime - 1_000_000,
        stopTime: stopTime, walvaultVersion: "test", compression: "zstd", backupLabel: "", tablespaceMap: nil,
        tablespaces: [], parts: [], entries: [])
}

/// Segments `numbers` on `timeline`, archived at the given times (default: number × 10 s).
func archived(_ timeline: UInt32, _ numbers: ClosedRange<UInt64>, at time: (UInt64) -> Int64 = { Int64($0) * 10_000_000 })
    -> [WALSegmentName: Int64]
{
    var result: [WALSegmentName: Int64] = [:]
    for n in numbers { result[WALSegmentName(timeline: timeline, segmentNumber: n, segmentSize: mib16)] = time(n) }
    return result
}

func segmentStart(_ n: UInt64) -> UInt64 { n * UInt64(mib16) }

@Suite struct LSNAndHistoryTests {
    @Test func lsnRoundTrips() {
        #expect(LSN("16/B374D848")?.value == 0x16_B374_D848)
        #expect(LSN("0/3000000")?.description == "0/3000000")
        #expect(LSN("0/3000000")!.segmentNumber(segmentSize: mib16) == 3)
        #expect(LSN("0/3000000")!.previousByteSegmentNumber(segmentSize: mib16) == 2)
        #expect(LSN("1/0")!.segmentNumber(segmentSize: mib16) == 256)
        for bad in ["", "0", "0/", "/1", "G/1", "0/1/2", "100000000/0"] { #expect(LSN(bad) == nil) }
    }

    @Test func historyFilesParseLikePostgreSQLWritesThem() throws {
        let text = "1\t0/3000158\tno recovery target specified\n\n2\t0/5000000\tat restore point \"x\"\n"
        let history = try #require(TimelineHistory(timeline: 3, text: text))
        #expect(history.ancestors.map(\.parent) == [1, 2])
        #expect(history.switchPoint(leaving: 2) == LSN("0/5000000"))
        #expect(history.switchPoint(leaving: 4) == nil)
        #expect(TimelineHistory(timeline: 2, text: "# comment only\n") == nil)
        #expect(TimelineHistory(timeline: 2, text: "2\t0/1\tself-reference\n") == nil)
        // Switch points may go down (issue 24); parents may not.
        #expect(TimelineHistory(timeline: 3, text: "1\t0/5\tx\n2\t0/4\tgoes backwards\n") != nil)
        #expect(TimelineHistory(timeline: 3, text: "2\t0/4\tx\n1\t0/5\tparents go backwards\n") == nil)
        #expect(TimelineHistory(timeline: 3, text: "1\t0/4\tx\n1\t0/5\tparent repeated\n") == nil)
        #expect(TimelineHistory(timeline: 3, text: "1\t0/4\tx\n3\t0/5\tparent not below the file's timeline\n") == nil)
        #expect(TimelineHistory(timeline: 2, text: "x\t0/1\n") == nil)
    }
}

@Suite struct RecoveryTargetTests {
    @Test(arguments: [
        ("2026-11-23 10:00:00+00", Int64(1_795_428_000_000_000)),
        ("2026-11-23 10:00:00Z", Int64(1_795_428_000_000_000)),
        ("2026-11-23T12:00:00+02:00", Int64(1_795_428_000_000_000)),
        ("2026-11-23 12:30:00+0230", Int64(1_795_428_000_000_000)),
        ("2026-11-23 05:00:00-05", Int64(1_795_428_000_000_000)),
        ("2026-11-23 10:00:00.5+00", Int64(1_795_428_000_500_000)),
        ("2026-11-23 10:00:00.123456+00", Int64(1_795_428_000_123_456)),
        ("2026-11-23 10:00:00.1234567+00", Int64(1_795_428_000_123_456))
    ])
    func parsesTimesWithOffsets(text: String, expected: Int64) {
        #expect(RecoveryTarget.parseTime(text) == expected)
    }

    @Test(arguments: [
        "", "yesterday", "2026-11-23", "2026-13-01 00:00:00+00", "2026-02-31 00:00:00+00", "2026-11-23 24:00:00+00",
        "2026-11-23 10:00:00+25", "2026-11-23 10:00:00.+00", "2026-11-23 10:00:00 PST", "2026/11/23 10:00:00"
    ])
    func refusesWhatIsNotATime(text: String) {
        #expect(RecoveryTarget.parseTime(text) == nil)
    }

    @Test func formatsUTCForPostgreSQL() {
        #expect(RecoveryTarget.formatUTC(1_795_428_000_000_000) == "2026-11-23 10:00:00+00")
        #expect(RecoveryTarget.formatUTC(1_795_428_000_000_042) == "2026-11-23 10:00:00.000042+00")
        #expect(RecoveryTarget.parseTime(RecoveryTarget.formatUTC(1_795_428_000_123_456)) == 1_795_428_000_123_456)
    }
}

@Suite struct BackupSelectionTests {
    let backups = [
        manifest("b1", start: segmentStart(2), stop: segmentStart(3), stopTime: 100),
        manifest("b2", start: segmentStart(5), stop: segmentStart(6), stopTime: 200),
        manifest("b3", start: segmentStart(8), stop: segmentStart(9), stopTime: 300)
    ]

    @Test func newestBackupFinishedStrictlyBeforeTheTarget() throws {
        #expect(try BackupSelection.choose(from: backups, target: .time(250)).label == "b2")
        #expect(try BackupSelection.choose(from: backups, target: .time(200)).label == "b1")
        #expect(try BackupSelection.choose(from: backups, target: .time(201)).label == "b2")
        #expect(try BackupSelection.choose(from: backups.reversed(), target: .time(1000)).label == "b3")
        #expect(try BackupSelection.choose(from: backups, target: .latest).label == "b3")
    }

    @Test func targetBeforeTheOldestBackupIsAnError() {
        #expect(throws: CatalogError.self) { try BackupSelection.choose(from: backups, target: .time(100)) }
        #expect(throws: CatalogError.self) { try BackupSelection.choose(from: [], target: .latest) }
    }

    @Test func namedBackupMustExistAndPrecedeTheTarget() throws {
        #expect(try BackupSelection.choose(from: backups, target: .time(1000), label: "b1").label == "b1")
        #expect(throws: CatalogError.self) { try BackupSelection.choose(from: backups, target: .time(250), label: "b3") }
        #expect(throws: CatalogError.self) { try BackupSelection.choose(from: backups, target: .latest, label: "nope") }
    }
}

@Suite struct WALPlanTests {
    let backup = manifest("b", start: segmentStart(2) + 40, stop: segmentStart(3) + 100, stopTime: 35_000_000)

    @Test func latestReplaysToTheEndOfTheArchive() throws {
        let plan = try WALPlanner.plan(backup: backup, target: .latest, histories: [:], archived: archived(1, 1...9))
        #expect(plan.targetTimeline == 1)
        #expect(plan.ranges == [.init(timeline: 1, first: seg("000000010000000000000002"), last: seg("000000010000000000000009"), count: 8)])
    }

    @Test func timeTargetStopsAtTheFirstSegmentArchivedAfterIt() throws {
        // Segment n archived at n × 10 s; a target at 55 s lies in segment 6 or before.
        let plan = try WALPlanner.plan(backup: backup, target: .time(55_000_000), histories: [:], archived: archived(1, 2...9))
        #expect(plan.ranges.map(\.last) == [seg("000000010000000000000006")])
        #expect(plan.segmentCount == 5)
        // A gap after the target does not matter.
        var withGap = archived(1, 2...9)
        withGap[seg("000000010000000000000008")] = nil
        #expect(try WALPlanner.plan(backup: backup, target: .time(55_000_000), histories: [:], archived: withGap).segmentCount == 5)
    }

    @Test func targetBeyondTheArchiveNeedsLatest() {
        #expect(throws: CatalogError.self) {
            try WALPlanner.plan(backup: backup, target: .time(1_000_000_000), histories: [:], archived: archived(1, 2...9))
        }
    }

    @Test func gapsAreNamed() throws {
        var withGap = archived(1, 2...9)
        withGap[seg("000000010000000000000005")] = nil
        do {
            _ = try WALPlanner.plan(backup: backup, target: .latest, histories: [:], archived: withGap)
            Issue.record("expected a gap")
        } catch let error as CatalogError {
            #expect(error.problem.contains("WAL segment 000000010000000000000005 is in no store"))
            #expect(error.problem.contains("past 000000010000000000000004"))
        }
        #expect(throws: CatalogError.self) {
            try WALPlanner.plan(backup: backup, target: .time(90_000_000), histories: [:], archived: withGap)
        }
    }

    @Test func walNeededForConsistencyMustBeThereWhateverTheTarget() {
        // Only the start segment: the stop segment (3) is missing.
        #expect(throws: CatalogError.self) {
            try WALPlanner.plan(backup: backup, target: .latest, histories: [:], archived: archived(1, 2...2))
        }
        #expect(throws: CatalogError.self) {
            try WALPlanner.plan(backup: backup, target: .time(1), histories: [:], archived: archived(1, 2...2, at: { _ in 999_000_000 }))
        }
    }

    @Test func followsTimelineSwitchesToTheLatestTimeline() throws {
        // Timeline 2 left timeline 1 inside segment 6; timeline 3 left timeline 2 inside segment 8.
        let histories: [UInt32: TimelineHistory] = [
            2: TimelineHistory(timeline: 2, text: "1\t0/6000100\tx\n")!,
            3: TimelineHistory(timeline: 3, text: "1\t0/6000100\tx\n2\t0/8000200\ty\n")!
        ]
        let available = archived(1, 1...9).merging(archived(2, 6...8)) { a, _ in a }.merging(archived(3, 8...10)) { a, _ in a }
        let plan = try WALPlanner.plan(backup: backup, target: .latest, histories: histories, archived: available)
        #expect(plan.targetTimeline == 3)
        #expect(plan.timelines == [1, 2, 3])
        #expect(
            plan.ranges == [
                .init(timeline: 1, first: seg("000000010000000000000002"), last: seg("000000010000000000000005"), count: 4),
                .init(timeline: 2, first: seg("000000020000000000000006"), last: seg("000000020000000000000007"), count: 2),
                .init(timeline: 3, first: seg("000000030000000000000008"), last: seg("00000003000000000000000A"), count: 3)
            ])
        // A missing segment on a passed timeline is a gap even with later ones present.
        var gap = available
        gap[seg("000000020000000000000007")] = nil
        #expect(throws: CatalogError.self) { try WALPlanner.plan(backup: backup, target: .latest, histories: histories, archived: gap) }
    }

    @Test func timelinesThatBranchedBeforeTheBackupWasConsistentAreIgnored() throws {
        let histories: [UInt32: TimelineHistory] = [2: TimelineHistory(timeline: 2, text: "1\t0/3000000\tbefore the stop\n")!]
        let plan = try WALPlanner.plan(backup: backup, target: .latest, histories: histories, archived: archived(1, 2...4))
        #expect(plan.targetTimeline == 1)
    }

    @Test func stopExactlyOnASegmentBoundaryBelongsToThePreviousSegment() throws {
        let onBoundary = manifest("b", start: segmentStart(2), stop: segmentStart(4), stopTime: 1)
        #expect(onBoundary.stopSegment() == seg("000000010000000000000003"))
        #expect(try WALPlanner.plan(backup: onBoundary, target: .latest, histories: [:], archived: archived(1, 2...3)).segmentCount == 2)
    }
}
