import Testing
import WalvaultConfig
import WalvaultTesting

@testable import WalvaultCatalog

/// Which level a backup takes and on which prior (BackupLevelPlanner), and how retention treats
/// chains (ExpiryPlanner, BackupDeletion): case by case, without I/O.
@Suite struct BackupLevelPlannerTests {
    static let day: Int64 = 86_400_000_000
    static let now: Int64 = 1_795_000_000_000_000

    func candidate(
        _ label: String, _ level: BackupLevel, prior: String? = nil, daysAgo: Double, format: Int = 2, system: String = "7",
        references: [String] = []
    ) -> BackupLevelPlanner.Candidate {
        .init(
            label: label, level: level, prior: prior, stopTime: Self.now - Int64(daysAgo * Double(Self.day)), format: format,
            systemIdentifier: system, references: references)
    }

    func decide(_ requested: BackupLevel?, _ candidates: [BackupLevelPlanner.Candidate], fullEveryDays: Int = 7, maxChain: Int = 14)
        -> BackupLevelPlanner.Decision
    {
        BackupLevelPlanner.decide(
            requested: requested, candidates: candidates, systemIdentifier: "7", fullEveryDays: fullEveryDays, maxChain: maxChain, now: Self.now)
    }

    var chain: [BackupLevelPlanner.Candidate] {
        [
            candidate("A", .full, daysAgo: 3),
            candidate("B", .incr, prior: "A", daysAgo: 2, references: ["A"]),
            candidate("C", .incr, prior: "B", daysAgo: 1, references: ["A", "B"])
        ]
    }

    @Test func withoutTypeAnIncrOnTheNewestBackup() {
        let d = decide(nil, chain)
        #expect(d.level == .incr && d.prior == "C" && d.chainLength == 4)
        #expect(d.reason.contains("backup 4 of 14"), "\(d.reason)")
    }

    @Test func nothingToBuildOnMeansFullWhateverWasAsked() {
        for asked in [nil, BackupLevel.incr, .diff] {
            let d = decide(asked, [])
            #expect(d.level == .full && d.prior == nil && d.reason.contains("no earlier complete backup"), "\(d)")
        }
        // Another cluster's backups, or ones without block maps, are not priors.
        #expect(decide(nil, [candidate("A", .full, daysAgo: 1, system: "8")]).level == .full)
        #expect(decide(.incr, [candidate("A", .full, daysAgo: 1, format: 1)]).level == .full)
    }

    @Test func aDiffBuildsOnTheNewestFull() {
        let d = decide(.diff, chain)
        #expect(d.level == .diff && d.prior == "A" && d.chainLength == 2)
    }

    @Test func askedForFullIsFull() {
        #expect(decide(.full, chain) == .init(level: .full, prior: nil, reason: "--type full was asked for", chainLength: 1))
    }

    @Test func anOldFullStartsANewChainUnlessAnIncrWasAskedFor() {
        let old = [candidate("A", .full, daysAgo: 8), candidate("B", .incr, prior: "A", daysAgo: 1, references: ["A"])]
        let d = decide(nil, old)
        #expect(d.level == .full && d.reason.contains("8 days old") && d.reason.contains("full_every_days is 7"), "\(d.reason)")
        #expect(decide(.incr, old).level == .incr)
        #expect(decide(nil, old, fullEveryDays: 9).level == .incr)
    }

    @Test func maxChainIsNeverExceededEvenWhenAsked() {
        let d = decide(.incr, chain, maxChain: 3)
        #expect(d.level == .full && d.reason.contains("chain of 4") && d.reason.contains("max_chain is 3"), "\(d.reason)")
        #expect(decide(nil, chain, maxChain: 4).level == .incr)
        #expect(decide(nil, chain, maxChain: 1).level == .full)
    }

    @Test func aBackupWhoseChainIsBrokenIsNoPrior() {
        // B's full is gone (damaged or deleted by hand): C and B cannot be built on; nor can a loop.
        let broken = [
            candidate("B", .incr, prior: "A", daysAgo: 2, references: ["A"]), candidate("C", .incr, prior: "B", daysAgo: 1, references: ["A", "B"])
        ]
        #expect(decide(nil, broken).level == .full)
        let looped = [candidate("X", .incr, prior: "Y", daysAgo: 2), candidate("Y", .incr, prior: "X", daysAgo: 1)]
        #expect(decide(nil, looped).level == .full)
        // A full that is intact, next to the broken chain, is still used.
        let d = decide(nil, broken + [candidate("F", .full, daysAgo: 0.5)])
        #expect(d.level == .incr && d.prior == "F")
    }
}

@Suite struct ChainRetentionTests {
    static let day: Int64 = 86_400_000_000
    static let now: Int64 = 1_795_000_000_000_000
    static let size = 16 << 20

    func backup(_ label: String, daysAgo: Double, start: UInt64, needs: [String] = []) -> ExpiryPlanner.Backup {
        ExpiryPlanner.Backup(
            label: label, stopTime: Self.now - Int64(daysAgo * Double(Self.day)), timeline: 1,
            startSegment: WALSegmentName(timeline: 1, segmentNumber: start, segmentSize: Self.size), needs: needs)
    }

    func segments(_ numbers: ClosedRange<UInt64>) -> [WALSegmentName: Int64] {
        Dictionary(
            uniqueKeysWithValues: numbers.map {
                (WALSegmentName(timeline: 1, segmentNumber: $0, segmentSize: Self.size), Self.now - Int64(30 - $0) * Self.day)
            })
    }

    @Test func theFullAKeptIncrementalReadsStaysButNotItsWAL() {
        let backups = [
            backup("F", daysAgo: 10, start: 1), backup("I1", daysAgo: 5, start: 5, needs: ["F"]),
            backup("I2", daysAgo: 0.5, start: 9, needs: ["F", "I1"])
        ]
        let decisions = ExpiryPlanner.plan(
            backups: backups, segments: segments(1...10), incomplete: [:], histories: [:], segmentSize: Self.size, days: 1, now: Self.now)
        let byBackup = Dictionary(
            uniqueKeysWithValues: decisions.compactMap { d -> (String, ExpiryPlanner.Decision)? in
                if case .backup(let label) = d.subject { return (label, d) } else { return nil }
            })
        #expect(byBackup["F"]?.keep == true && byBackup["F"]?.reason.contains("reads parts of it") == true, "\(byBackup)")
        #expect(byBackup["I1"]?.keep == true)
        // WAL is kept from the oldest backup kept for its moments (I1), not from F's start.
        let deletedSegments = decisions.filter { !$0.keep }.compactMap { d -> UInt64? in
            if case .segment(let s) = d.subject { return s.segmentNumber(segmentSize: Self.size) } else { return nil }
        }
        #expect(deletedSegments == [1, 2, 3, 4])
    }

    @Test func aBackupAnotherStoreReadsStays() {
        let decisions = ExpiryPlanner.plan(
            backups: [backup("F", daysAgo: 10, start: 1), backup("G", daysAgo: 5, start: 5), backup("H", daysAgo: 0.5, start: 9)],
            segments: segments(1...10), incomplete: [:], histories: [:], segmentSize: Self.size, days: 1, now: Self.now,
            neededElsewhere: ["F": "I (in store \"s3\")"])
        let f = decisions.first { $0.subject == .backup("F") }
        #expect(f?.keep == true && f?.reason.contains("I (in store \"s3\")") == true, "\(String(describing: f))")
        #expect(decisions.first { $0.subject == .backup("G") }?.keep == true)
    }

    @Test func aFullIsDueWithTheLastIncrementalThatReadsIt() {
        let backups = [backup("F", daysAgo: 10, start: 1), backup("G", daysAgo: 6, start: 3), backup("I", daysAgo: 2, start: 5, needs: ["F"])]
        let due = ExpiryPlanner.due(backups: backups, segments: [], segmentSize: Self.size, days: 3, now: Self.now)
        #expect(due["F"] == due["I"], "\(due)")
        #expect(due["G"]! < due["I"]!)
    }

    @Test func aBackupAnIncrementalReadsIsNotDeletedByHand() {
        let backups = [backup("F", daysAgo: 10, start: 1), backup("G", daysAgo: 6, start: 3), backup("I", daysAgo: 2, start: 5, needs: ["F"])]
        let verdict = BackupDeletion.verdict(
            label: "F", backups: backups, segments: Set(segments(1...10).keys), segmentSize: Self.size, days: 1, now: Self.now)
        #expect(verdict == .refused(because: "backup I reads parts of it: deleting it would break I and its chain"))
    }
}

@Suite struct BackupSettingsTests {
    @Test func theRulesParseAndOutOfRangeIsOneLineNamingTheKey() throws {
        let head = "[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"\n[backup]\n"
        #expect(
            try ConfigLoader.parse(head + "full_every_days = 3\nmax_chain = 5\n", path: "/c.toml").backup
                == BackupSettings(fullEveryDays: 3, maxChain: 5))
        #expect(try ConfigLoader.parse(head, path: "/c.toml").backup == BackupSettings())
        for (text, key, problem) in [
            ("full_every_days = 0", "backup.full_every_days", "0 is out of range"), ("max_chain = 1001", "backup.max_chain", "1001 is out of range"),
            ("max_chain = \"5\"", "backup.max_chain", "expected an integer"), ("chain = 1", "backup.chain", "unknown key")
        ] {
            do {
                _ = try ConfigLoader.parse(head + text, path: "/c.toml")
                Issue.record("expected an error for \(text)")
            } catch let error as ConfigError {
                #expect(error.key == key && error.problem.hasPrefix(problem), "\(text): \(error)")
            }
        }
    }
}
