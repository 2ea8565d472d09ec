import Testing
import WalvaultTesting

@testable import WalvaultBackup
@testable import WalvaultCatalog
@testable import WalvaultDrill

/// What verify concludes from the stores' listings, case by case.
@Suite struct ArchiveAuditTests {
    static let size = 16 << 20

    func name(_ timeline: UInt32, _ number: UInt64) -> String {
        WALSegmentName(timeline: timeline, segmentNumber: number, segmentSize: Self.size).description
    }

    func lsn(_ number: UInt64, offset: UInt64 = 0x28) -> LSN { LSN(number * UInt64(Self.size) + offset) }

    func backup(_ label: String, timeline: UInt32 = 1, start: UInt64, stop: UInt64, at: Int64 = 100) -> ArchiveAudit.Backup {
        ArchiveAudit.Backup(label: label, timeline: timeline, startLSN: lsn(start), stopLSN: lsn(stop), stopTime: at, parts: ["part-000001"])
    }

    func wal(_ timeline: UInt32, _ numbers: ClosedRange<UInt64>, except: Set<UInt64> = []) -> [String: [String]] {
        Dictionary(uniqueKeysWithValues: numbers.filter { !except.contains($0) }.map { (name(timeline, $0), ["sha-\(timeline)-\($0)"]) })
    }

    func gaps(_ store: ArchiveAudit.Holdings, histories: [UInt32: TimelineHistory] = [:]) -> [String] {
        ArchiveAudit.gaps(in: store, histories: histories, segmentSize: Self.size).map(\.problem)
    }

    @Test func anUnbrokenRunFromTheBackupHasNoGap() {
        #expect(gaps(.init(store: "s", walFiles: wal(1, 1...9), backups: [backup("B", start: 3, stop: 4)])).isEmpty)
    }

    @Test func aHoleAfterTheBackupIsOneGapNamingTheBackup() {
        let found = gaps(.init(store: "s", walFiles: wal(1, 1...9, except: [6, 7]), backups: [backup("B", start: 3, stop: 4)]))
        #expect(found == ["gap: 2 segments \(name(1, 6)) to \(name(1, 7)) are missing; backup B cannot be replayed past it from this store"])
    }

    /// The shipper may finish a later segment before an earlier one: the earlier one, still
    /// queued for the store when verify read the queue, is on its way, not a gap.
    @Test func aHoleStillQueuedForTheStoreIsNoGap() {
        let queued = ArchiveAudit.Holdings(
            store: "s", walFiles: wal(1, 1...9, except: [6, 7]), backups: [backup("B", start: 3, stop: 4)], queued: [name(1, 6)])
        #expect(gaps(queued) == ["gap: segment \(name(1, 7)) is missing; backup B cannot be replayed past it from this store"])
        var both = queued
        both.queued.insert(name(1, 7))
        #expect(gaps(both).isEmpty)
    }

    @Test func theWALABackupNeedsToBeConsistentMustBeThereEvenWithNothingLater() {
        // Start in 3, stop in 5: 4 and 5 are needed although no later segment was archived.
        let found = gaps(.init(store: "s", walFiles: wal(1, 1...3), backups: [backup("B", start: 3, stop: 5)]))
        #expect(found == ["gap: 2 segments \(name(1, 4)) to \(name(1, 5)) are missing; backup B cannot be replayed past it from this store"])
    }

    @Test func aHoleBeforeEveryBackupIsNoGap() {
        #expect(gaps(.init(store: "s", walFiles: wal(1, 1...9, except: [2]), backups: [backup("B", start: 3, stop: 4)])).isEmpty)
    }

    @Test func acrossATimelineSwitchTheOldTimelineIsNeededOnlyUpToTheSwitch() {
        // Timeline 2 branched in segment 6: 1's 3..5 and 2's 6.. are needed; 1's 7.. are not.
        let history = TimelineHistory(timeline: 2, ancestors: [.init(parent: 1, switchPoint: lsn(6, offset: 0x100))])
        var files = wal(1, 1...5)
        files.merge(wal(2, 6...8)) { a, _ in a }
        files["00000002.history"] = ["h"]
        #expect(gaps(.init(store: "s", walFiles: files, backups: [backup("B", start: 3, stop: 4)]), histories: [2: history]).isEmpty)
        files.removeValue(forKey: name(1, 5))
        #expect(
            gaps(.init(store: "s", walFiles: files, backups: [backup("B", start: 3, stop: 4)]), histories: [2: history])
                == ["gap: segment \(name(1, 5)) is missing; backup B cannot be replayed past it from this store"])
        files[name(1, 5)] = ["x"]
        files.removeValue(forKey: name(2, 7))
        #expect(
            gaps(.init(store: "s", walFiles: files, backups: [backup("B", start: 3, stop: 4)]), histories: [2: history])
                == ["gap: segment \(name(2, 7)) is missing; backup B cannot be replayed past it from this store"])
    }

    @Test func aNewTimelineWithNothingArchivedYetIsNoGap() {
        let history = TimelineHistory(timeline: 2, ancestors: [.init(parent: 1, switchPoint: lsn(6, offset: 0x100))])
        var files = wal(1, 1...6)
        files["00000002.history"] = ["h"]
        #expect(gaps(.init(store: "s", walFiles: files, backups: [backup("B", start: 3, stop: 4)]), histories: [2: history]).isEmpty)
    }

    @Test func aTimelineThatBranchedBeforeTheBackupStoppedIsNotItsConcern() {
        // Timeline 2 left 1 in segment 2, before B: B restores along timeline 1 only.
        let history = TimelineHistory(timeline: 2, ancestors: [.init(parent: 1, switchPoint: lsn(2))])
        var files = wal(1, 3...9)
        files.merge(wal(2, 2...4, except: [3])) { a, _ in a }
        #expect(gaps(.init(store: "s", walFiles: files, backups: [backup("B", start: 3, stop: 4)]), histories: [2: history]).isEmpty)
    }

    @Test func differentContentsUnderOneNameIsAProblemIdenticalCopiesANote() {
        var files = wal(1, 1...3)
        files[name(1, 2)] = ["aaa", "bbb"]
        files[name(1, 3)] = ["ccc", "ccc"]
        let found = ArchiveAudit.duplicates(in: .init(store: "s", walFiles: files))
        #expect(found.problems.map(\.object) == [name(1, 2)])
        #expect(found.notes.map(\.object) == [name(1, 3)])
    }

    @Test func walBeforeEveryBackupIsUnusedAndSaidAsARun() {
        let found = ArchiveAudit.unused(
            in: .init(store: "s", walFiles: wal(1, 1...9), backups: [backup("B", start: 4, stop: 5)]), segmentSize: Self.size)
        #expect(found.count == 1)
        #expect(found.first?.problem.hasPrefix("3 WAL segments (\(name(1, 1)) to \(name(1, 3)))") == true)
        #expect(
            ArchiveAudit.unused(in: .init(store: "s", walFiles: wal(1, 1...9)), segmentSize: Self.size).isEmpty,
            "with no backup nothing is judged unused")
    }

    @Test func whatAnotherStoreHoldsIsMissingOnlyWhereThisStoreShouldHaveIt() {
        let old = backup("OLD", start: 2, stop: 2, at: 10)
        let new = backup("NEW", start: 6, stop: 6, at: 20)
        let cloud = ArchiveAudit.Holdings(store: "cloud", walFiles: wal(1, 2...9), backups: [old, new])
        // The local store keeps fewer days: OLD and the WAL before NEW's start are expired there.
        var local = ArchiveAudit.Holdings(store: "local", walFiles: wal(1, 6...9), backups: [new])
        #expect(ArchiveAudit.missingAcrossStores([local, cloud], segmentSize: Self.size).isEmpty)
        // Segment 8 lost locally, segment 9 and NEW still queued for the cloud: only 8 is missing.
        local.walFiles.removeValue(forKey: name(1, 8))
        var lagging = cloud
        lagging.walFiles.removeValue(forKey: name(1, 9))
        lagging.backups = [old]
        lagging.queued = [name(1, 9), "NEW"]
        let found = ArchiveAudit.missingAcrossStores([local, lagging], segmentSize: Self.size)
        #expect(found == [.init(store: "local", object: name(1, 8), problem: "in store \"cloud\" but not in this one")])
        // Not queued: the cloud lacks them.
        lagging.queued = []
        let missing = ArchiveAudit.missingAcrossStores([local, lagging], segmentSize: Self.size).filter { $0.store == "cloud" }.map(\.object)
        #expect(missing == ["NEW", name(1, 9)])
    }

    @Test func aStoreWithNoBackupShouldHoldEverything() {
        let full = ArchiveAudit.Holdings(store: "a", walFiles: wal(1, 1...4), backups: [backup("B", start: 2, stop: 2)])
        let empty = ArchiveAudit.Holdings(store: "b", walFiles: wal(1, 3...4))
        let found = ArchiveAudit.missingAcrossStores([full, empty], segmentSize: Self.size).map(\.object)
        #expect(found == ["B", name(1, 1), name(1, 2)])
    }

    @Test func differentContentsAcrossStoresIsSaidOnce() {
        var a = ArchiveAudit.Holdings(store: "a", walFiles: wal(1, 1...2))
        let b = ArchiveAudit.Holdings(store: "b", walFiles: wal(1, 1...2))
        a.walFiles[name(1, 2)] = ["other"]
        let found = ArchiveAudit.missingAcrossStores([a, b], segmentSize: Self.size)
        #expect(found == [.init(store: "a", object: name(1, 2), problem: "different contents from the copy in store \"b\"")])
    }
}

/// The settings a drill's server runs with: never the production port, archive or upstream.
@Suite struct DrillSettingsTests {
    @Test func theDrillsServerListensOnlyOnItsOwnPortAndArchivesNothing() {
        let text = DrillServer.settings(port: 54_321, directory: "/var/tmp/walvault-drill-main-1/it's")
        let lines = Set(text.split(separator: "\n").map(String.init))
        for expected in [
            "port = 54321", "listen_addresses = '127.0.0.1'", "archive_mode = 'off'", "archive_command = ''", "primary_conninfo = ''",
            "synchronous_standby_names = ''", "unix_socket_directories = '/var/tmp/walvault-drill-main-1/it''s'",
            "hba_file = '/var/tmp/walvault-drill-main-1/it''s/pg_hba.conf'"
        ] {
            #expect(lines.contains(expected), "\(expected) in \(text)")
        }
        #expect(text.hasPrefix(DrillServer.settingsBegin))
    }

    @Test func conninfoValuesAreQuotedTheWayLibpqReadsThem() {
        #expect(DrillServer.conninfoQuoted(#"a'b\c"#) == #"a\'b\\c"#)
    }
}

@Suite struct DrillLogTests {
    @Test func theServersLastErrorLineIsFoundByBytes() {
        #expect(DrillServer.bytes(Array("2026 [1] FATAL:  recovery aborted".utf8), contain: Array("FATAL:".utf8)))
        #expect(!DrillServer.bytes(Array("LOG:  redo done".utf8), contain: Array("FATAL:".utf8)))
        #expect(!DrillServer.bytes(Array("FAT".utf8), contain: Array("FATAL:".utf8)))
    }
}
