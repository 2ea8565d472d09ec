import Testing
import WalvaultPolicy

/// Which backup's group each WAL segment joins (a Telegram forum topic per backup).
@Suite struct ObjectGroupPlanTests {
    typealias Backup = ObjectGroupPlan.Backup<Int>

    let complete = [
        Backup(label: "b1", start: 10, startTime: 1_000), Backup(label: "b2", start: 20, startTime: 2_000),
        Backup(label: "b3", start: 30, startTime: 3_000)
    ]

    @Test(arguments: [(5, nil), (10, "b1"), (19, "b1"), (20, "b2"), (29, "b2"), (30, "b3"), (99, "b3")] as [(Int, String?)])
    func walGoesWithTheLastBackupThatStartedAtOrBeforeIt(position: Int, owner: String?) {
        #expect(ObjectGroupPlan.owner(of: position, storedAt: nil, backups: complete) == owner)
        // Shipped late, or in another order: the same answer.
        #expect(ObjectGroupPlan.owner(of: position, storedAt: 9_999, backups: complete.reversed()) == owner)
    }

    @Test func aRunningBackupTakesWhatWasStoredAfterItBegan() {
        let running = complete + [Backup(label: "b4", start: nil, startTime: 4_000)]
        #expect(ObjectGroupPlan.owner(of: 40, storedAt: 4_500, backups: running) == "b4")
        #expect(ObjectGroupPlan.owner(of: 40, storedAt: 3_500, backups: running) == "b3")
        // Without a time, only positions decide.
        #expect(ObjectGroupPlan.owner(of: 40, storedAt: nil, backups: running) == "b3")
        // WAL older than the newest complete backup's start, shipped late, is never the running one's.
        #expect(ObjectGroupPlan.owner(of: 25, storedAt: 4_500, backups: running) == "b2")
        // The first backup, still running.
        let first = [Backup(label: "b1", start: nil, startTime: 1_000)]
        #expect(ObjectGroupPlan.owner(of: 3, storedAt: 1_200, backups: first) == "b1")
        #expect(ObjectGroupPlan.owner(of: 3, storedAt: 900, backups: first) == nil)
        #expect(ObjectGroupPlan.owner(of: 3, storedAt: 900, backups: []) == nil)
    }

    @Test func anAbandonedBackupYieldsToANewerCompleteOne() {
        var backups = [Backup(label: "b1", start: 10, startTime: 1_000), Backup(label: "dead", start: nil, startTime: 1_500)]
        #expect(ObjectGroupPlan.owner(of: 15, storedAt: 1_600, backups: backups) == "dead")
        backups.append(Backup(label: "b2", start: 20, startTime: 2_000))
        #expect(ObjectGroupPlan.owner(of: 21, storedAt: 2_100, backups: backups) == "b2")
        // Once a newer backup is complete, what lies before its start goes by position.
        #expect(ObjectGroupPlan.owner(of: 15, storedAt: 1_600, backups: backups) == "b1")
    }
}
