import Testing
import WalvaultCatalog

/// Which files snapshots expire keeps, and which packs and indexes it sweeps (issue 30).
@Suite struct SnapshotExpiryTests {
    static let day: Int64 = 86_400_000_000
    static let now: Int64 = 100 * day

    static func snapshot(_ tree: String, _ daysAgo: Double) -> SnapshotExpiry.Snapshot {
        let time = now - Int64(daysAgo * Double(day))
        return SnapshotExpiry.Snapshot(tree: tree, id: "t\(time)", time: time)
    }

    static func kept(_ snapshots: [SnapshotExpiry.Snapshot], days: Int = 30) -> [String] {
        SnapshotExpiry.plan(snapshots, days: days, now: now).filter(\.keep).map(\.snapshot.name)
    }

    @Test func snapshotsInsideTheWindowStayAndTheOneAtItsStartToo() {
        let daily = (0..<40).map { Self.snapshot("uploads", Double($0) + 0.5) }
        let kept = Self.kept(daily)
        // 30 inside (0.5 … 29.5 days old), and the 30.5-day-old one: the tree when the window begins.
        #expect(kept.count == 31)
        #expect(kept.contains(Self.snapshot("uploads", 30.5).name))
        #expect(!kept.contains(Self.snapshot("uploads", 31.5).name))
        let decisions = SnapshotExpiry.plan(daily, days: 30, now: Self.now)
        #expect(decisions.first { $0.snapshot == Self.snapshot("uploads", 30.5) }?.reason == "the tree as it was when the 30-day window begins")
        #expect(decisions.first { $0.snapshot == Self.snapshot("uploads", 39.5) }?.keep == false)
    }

    @Test func theNewestSnapshotOfATreeStaysWhateverItsAge() {
        let old = [Self.snapshot("videos", 90), Self.snapshot("videos", 60)]
        #expect(Self.kept(old) == [Self.snapshot("videos", 60).name])
        let decisions = SnapshotExpiry.plan(old, days: 30, now: Self.now)
        #expect(decisions.last?.reason == "the newest snapshot of videos, kept whatever its age")
    }

    @Test func treesAreJudgedApart() {
        let snapshots = [Self.snapshot("a", 50), Self.snapshot("a", 40), Self.snapshot("b", 45), Self.snapshot("a", 1)]
        #expect(Set(Self.kept(snapshots)) == [Self.snapshot("a", 40).name, Self.snapshot("a", 1).name, Self.snapshot("b", 45).name])
    }

    @Test func aSnapshotExactlyAtTheWindowsStartIsTheAnchor() {
        let snapshots = [Self.snapshot("a", 31), Self.snapshot("a", 30), Self.snapshot("a", 29)]
        #expect(Self.kept(snapshots) == [Self.snapshot("a", 30).name, Self.snapshot("a", 29).name])
    }

    @Test func nothingToPlanIsNothingToDo() {
        #expect(SnapshotExpiry.plan([], days: 30, now: Self.now).isEmpty)
        #expect(SnapshotExpiry.sweep(packs: [], used: [], indexes: []) == .init(packs: [], indexes: [], writesIndex: false))
    }

    @Test func dueIsWhenTheNextSnapshotLeavesTheWindowsStart() {
        let snapshots = [Self.snapshot("a", 10), Self.snapshot("a", 5), Self.snapshot("a", 1)]
        let due = SnapshotExpiry.due(snapshots, days: 30)
        #expect(due[Self.snapshot("a", 10).name] == Self.snapshot("a", 5).time + 30 * Self.day)
        #expect(due[Self.snapshot("a", 1).name] == nil)
        // The rule and the date agree: at the due moment the plan deletes it, a moment before it keeps it.
        let moment = due[Self.snapshot("a", 10).name]!
        #expect(SnapshotExpiry.plan(snapshots, days: 30, now: moment - 1).first { $0.snapshot == Self.snapshot("a", 10) }?.keep == true)
        #expect(SnapshotExpiry.plan(snapshots, days: 30, now: moment + 1).first { $0.snapshot == Self.snapshot("a", 10) }?.keep == false)
    }

    @Test func onlyPacksNoKeptSnapshotUsesGoAndTheIndexesAreReplacedFirst() {
        let sweep = SnapshotExpiry.sweep(packs: ["p1", "p2", "p3"], used: ["p2"], indexes: ["i1", "i2"])
        #expect(sweep.packs == ["p1", "p3"])
        #expect(sweep.indexes == ["i1", "i2"] && sweep.writesIndex)
    }

    @Test func withEveryPackInUseAndOneIndexNothingIsTouched() {
        #expect(SnapshotExpiry.sweep(packs: ["p1", "p2"], used: ["p1", "p2"], indexes: ["i1"]) == .init(packs: [], indexes: [], writesIndex: false))
    }

    @Test func severalIndexesAreCompactedIntoOne() {
        let sweep = SnapshotExpiry.sweep(packs: ["p1"], used: ["p1"], indexes: ["i1", "i2", "i3"])
        #expect(sweep.packs.isEmpty && sweep.indexes == ["i1", "i2", "i3"] && sweep.writesIndex)
    }

    @Test func withNoSnapshotLeftEveryPackAndIndexGoesAndNoIndexIsWritten() {
        let sweep = SnapshotExpiry.sweep(packs: ["p1", "p2"], used: [], indexes: ["i1"])
        #expect(sweep.packs == ["p1", "p2"] && sweep.indexes == ["i1"] && !sweep.writesIndex)
    }

    @Test func aPackAKilledBackupLeftIsSweptThoughNoSnapshotWasDeleted() {
        let sweep = SnapshotExpiry.sweep(packs: ["p1", "orphan"], used: ["p1"], indexes: ["i1"])
        #expect(sweep.packs == ["orphan"] && sweep.writesIndex)
    }
}
