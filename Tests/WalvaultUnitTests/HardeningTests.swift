import Testing
import WalvaultCatalog
import WalvaultConfig
import WalvaultHistory
import WalvaultPipeline
import WalvaultPostgres
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultArchive
@testable import WalvaultBackup
@testable import WalvaultKit
@testable import WalvaultMaintenance
@testable import WalvaultPolicy

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 10, item by item: each of these failed on the code before the hardening.

private func pgControl(_ systemIdentifier: UInt64) -> [UInt8] {
    var control = [UInt8](repeating: 0, count: 8192)
    withUnsafeBytes(of: systemIdentifier.littleEndian) { for (i, b) in $0.enumerated() { control[i] = b } }
    return control
}

private func push(_ context: WalvaultContext, _ path: String) throws -> ArchivePushResult {
    try ArchivePush(context: context).run(walPath: path)
}

private func failure(_ body: () throws -> Void) -> String? {
    do { try body() } catch { return "\(error)" }
    Issue.record("expected an error")
    return nil
}

// MARK: 1. A restored cluster in a new directory must be able to archive.

@Suite struct ArchivingClusterTests {
    let segment = seg("000000010000000000000003")

    /// [cluster] pgdata names the old, deleted directory; the history file comes from the restored
    /// cluster's pg_wal (PostgreSQL runs archive_command there): that cluster's pg_control decides.
    @Test func historyFromARestoredClusterIsArchivedWhenConfiguredPgdataIsGone() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")], pgdata: Paths.join(dir.path, "old-deleted-pgdata"))
        _ = try push(context, dir.write("old/pg_wal/\(segment)", makeSegment(name: segment, systemIdentifier: 111)))
        _ = dir.write("restored/global/pg_control", pgControl(111))
        let history = dir.write("restored/pg_wal/00000002.history", Array("1\t0/3000000\tno recovery target specified\n".utf8))
        let result = try push(context, history)
        #expect(result.stored.count == 1)
        #expect(
            ArchivingCluster.dataDirectory(walPath: history, configured: Paths.join(dir.path, "old-deleted-pgdata"))
                == FileSystem.realPath(Paths.join(dir.path, "restored")))
    }

    @Test func theArchivingClustersIdentityIsStillChecked() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")], pgdata: Paths.join(dir.path, "gone"))
        _ = try push(context, dir.write("a/pg_wal/\(segment)", makeSegment(name: segment, systemIdentifier: 111)))
        _ = dir.write("other/global/pg_control", pgControl(222))
        let message = failure { _ = try push(context, dir.write("other/pg_wal/00000002.history", Array("1\t0/3000000\tx\n".utf8))) }
        #expect(message?.contains("system identifier 222") == true)
        #expect(message?.contains("system identifier 111") == true)
    }

    /// Nothing tells whose the file is: archiving goes on (the content check below still applies).
    @Test func noDataDirectoryAnywhereNeverStopsArchiving() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")], pgdata: "/nonexistent/walvault/pgdata")
        _ = try push(context, dir.write("a/\(segment)", makeSegment(name: segment)))
        #expect(try push(context, dir.write("b/00000002.history", Array("1\t0/3000000\tx\n".utf8))).stored.count == 1)
        #expect(
            try push(context, dir.write("b/000000010000000000000003.00000028.backup", Array("START WAL LOCATION: 0/3000028\n".utf8))).stored.count
                == 1)
    }
}

// MARK: 3. Timeline histories: refused when invalid, survived when already stored.

@Suite struct TimelineHistoryHardeningTests {
    @Test func garbageHistoryIsRefusedAndNothingStored() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        for (i, text) in ["garbage", "", "2\t0/3000000\tself\n", "0\t0/3000000\tno timeline 0\n", "1\tnot-an-lsn\n"].enumerated() {
            let message = failure { _ = try push(context, dir.write("w\(i)/00000002.history", Array(text.utf8))) }
            #expect(message?.contains("is not a valid timeline history file") == true, "\(text)")
        }
        #expect(filesUnder(Paths.join(dir.path, "store")).isEmpty)
    }

    @Test func historyContradictingItsStoredParentIsRefused() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        _ = try push(context, dir.write("a/00000002.history", Array("1\t0/3000000\tx\n".utf8)))
        // Timeline 3 claims timeline 2 left timeline 1 elsewhere: not this cluster's history.
        let message = failure { _ = try push(context, dir.write("b/00000003.history", Array("1\t0/5000000\tx\n2\t0/6000000\ty\n".utf8))) }
        #expect(message?.contains("contradicts the stored history of its parent timeline 2") == true)
        #expect(try push(context, dir.write("c/00000003.history", Array("1\t0/3000000\tx\n2\t0/6000000\ty\n".utf8))).stored.count == 1)
    }

    @Test func extendsIsPrefixPlusOneLine() {
        let two = TimelineHistory(timeline: 2, text: "1\t0/3000000\tx\n")!
        #expect(TimelineHistory(timeline: 3, text: "1\t0/3000000\tx\n2\t0/6000000\ty\n")!.extends(two))
        #expect(!TimelineHistory(timeline: 3, text: "1\t0/4000000\tx\n2\t0/6000000\ty\n")!.extends(two))
        // Issue 24: PostgreSQL writes this when recovery stops on timeline 1 inside timeline 2's segment.
        #expect(TimelineHistory(timeline: 3, text: "1\t0/3000000\tx\n2\t0/2000000\tbefore its parent began\n")!.extends(two))
        // A history whose parent is another timeline says nothing about timeline 2.
        #expect(TimelineHistory(timeline: 3, text: "1\t0/7000000\tx\n")!.extends(two))
    }

    /// A bad history object already in the store (written before this check existed, or by
    /// hand): info reports it, and a restore on timeline 1 plans without it, pinned to timeline 1.
    @Test func aStoredGarbageHistoryNoLongerBlocksInfoOrRestore() throws {
        let f = try BackupRestoreTests.Fixture()
        let garbage = Array("this is not a history file".utf8)
        let writer = try f.context.stores[0].makeWriter(directory: "main/wal")
        try garbage.withUnsafeBytes { try writer.write($0) }
        _ = try writer.commit(name: "00000002.history-\(SHA256Hasher.hex(of: garbage))")

        let info = try InfoReport.gather(context: f.context)
        #expect(info.unreadableHistories.count == 1)
        #expect(info.unreadableHistories[0].contains("timeline 2"))
        #expect(info.text.contains("UNREADABLE timeline history"))

        let target = Paths.join(f.dir.path, "restored")
        let report = try f.restore(into: target)
        #expect(report.plan.wal.targetTimeline == 1)
        #expect(!report.plan.wal.followsNewestTimeline)
        #expect(report.plan.lines.contains { $0.contains("planned without timeline 2") })
        let conf = String(decoding: read(Paths.join(target, "postgresql.auto.conf")), as: UTF8.self)
        #expect(conf.contains("recovery_target_timeline = '1'"))
    }

    @Test func plannerRefusesOnlyWhenTheTargetMayLieOnTheUnreadableTimeline() throws {
        let backup = manifest("B", start: segmentStart(2), stop: segmentStart(2) + 100, stopTime: 25_000_000)
        let wal = archived(1, 2...4).merging(archived(2, 4...6)) { a, _ in a }
        let unreadable: [UInt32: String] = [2: "garbage"]
        // latest: WAL was archived on timeline 2, so the end of the archive is there.
        #expect(throws: CatalogError.self) {
            _ = try WALPlanner.plan(backup: backup, target: .latest, histories: [:], archived: wal, unreadableHistories: unreadable)
        }
        // A time before any timeline-2 WAL was archived: planned on timeline 1, pinned.
        let early = try WALPlanner.plan(backup: backup, target: .time(35_000_000), histories: [:], archived: wal, unreadableHistories: unreadable)
        #expect(early.targetTimeline == 1)
        #expect(!early.followsNewestTimeline)
        #expect(early.ignoredHistories == unreadable)
        // No WAL on timeline 2 at all: latest is timeline 1's end.
        let none = try WALPlanner.plan(backup: backup, target: .latest, histories: [:], archived: archived(1, 2...4), unreadableHistories: unreadable)
        #expect(none.targetTimeline == 1)
        #expect(!none.followsNewestTimeline)
        // Without any unreadable history, 'latest' is what PostgreSQL follows.
        #expect(try WALPlanner.plan(backup: backup, target: .latest, histories: [:], archived: archived(1, 2...4)).followsNewestTimeline)
    }

    /// A newer timeline that left the backup's timeline before the backup finished cannot be
    /// followed from it; 'latest' would make PostgreSQL try, so recovery is pinned.
    @Test func aTimelineThatBranchedBeforeTheBackupPinsRecovery() throws {
        let backup = manifest("B", start: segmentStart(5), stop: segmentStart(5) + 100, stopTime: 55_000_000)
        let histories = [UInt32(2): TimelineHistory(timeline: 2, text: "1\t0/3000000\tx\n")!]
        let plan = try WALPlanner.plan(backup: backup, target: .latest, histories: histories, archived: archived(1, 5...7))
        #expect(plan.targetTimeline == 1)
        #expect(!plan.followsNewestTimeline)
        let settings = Restore.recoverySettings(existing: "", restoreCommand: "/bin/walvault", target: .latest, timeline: plan.targetTimeline)
        #expect(settings.contains("recovery_target_timeline = '1'"))
    }
}

// MARK: 2. One damaged backup costs only that backup.

@Suite struct DamagedManifestTests {
    @Test func aDamagedOlderBackupIsReportedAndPlannedAround() throws {
        let f = try BackupRestoreTests.Fixture()
        _ = f.dir.write("store/main/backup/L0/backup.manifest", Array("{ not json".utf8))
        _ = f.dir.write("store/main/backup/L0/backup.manifest.copy", Array("{\"label\": 3}".utf8))
        let info = try InfoReport.gather(context: f.context)
        #expect(info.backups.map(\.label) == ["L1"])
        #expect(info.damagedBackups.map(\.label) == ["L0"])
        #expect(info.damagedBackups[0].reason.contains("backup.manifest in store \"store1\" cannot be parsed"))
        #expect(info.incompleteBackups.isEmpty)
        #expect(info.text.contains("DAMAGED backup L0"))

        let report = try f.restore(into: Paths.join(f.dir.path, "restored"))
        #expect(report.plan.backup.label == "L1")
        #expect(report.plan.lines.contains { $0.hasPrefix("skipped damaged backup L0") })
        let named = failure {
            _ = try Restore(
                context: f.context,
                options: RestoreOptions(
                    pgdata: Paths.join(f.dir.path, "r2"), target: .latest, backupLabel: "L0",
                    restoreCommand: "/x")
            ).plan()
        }
        #expect(named?.hasPrefix("backup L0 is damaged:") == true)
    }

    @Test func theCopyAndThenAnotherStoreStandIn() throws {
        let f = try BackupRestoreTests.Fixture()
        let good = read(Paths.join(f.dir.path, "store/main/backup/L1/backup.manifest"))
        // The main manifest is damaged, its copy is absent: the copy in a second store is used.
        _ = f.dir.write("store/main/backup/L1/backup.manifest", Array("garbage".utf8))
        _ = f.dir.write("second/main/backup/L1/backup.manifest.copy", good)
        let both = makeContext(stores: [Paths.join(f.dir.path, "store"), Paths.join(f.dir.path, "second")])
        let info = try InfoReport.gather(context: both)
        #expect(info.backups.map(\.label) == ["L1"])
        #expect(info.damagedBackups.isEmpty)
        let report = try Restore(
            context: both, options: RestoreOptions(pgdata: Paths.join(f.dir.path, "restored"), target: .latest, restoreCommand: "/x")
        ).run()
        #expect(report.plan.backup.label == "L1")
        for (path, bytes) in f.files { #expect(read(Paths.join(f.dir.path, "restored", path)) == bytes) }
    }

    @Test func anUndecryptableManifestIsDamagedNotFatal() throws {
        let dir = TempDir()
        let store = dir.sub("store")
        let right = makeContext(stores: [store], keyRing: makeKeyRing())
        _ = try right.stores[0].createSmall(key: "main/backup/L9/backup.manifest", contents: Array("{}".utf8))
        let wrong = makeContext(stores: [store], keyRing: makeKeyRing("another passphrase"))
        let info = try InfoReport.gather(context: wrong)
        #expect(info.damagedBackups.map(\.label) == ["L9"])
        #expect(info.damagedBackups[0].reason.contains("wrong passphrase"))
    }

    @Test func aManifestOfAnotherBackupIsNotTakenForThisOne() throws {
        let f = try BackupRestoreTests.Fixture()
        let l1 = read(Paths.join(f.dir.path, "store/main/backup/L1/backup.manifest"))
        _ = f.dir.write("store/main/backup/L2/backup.manifest", l1)
        let info = try InfoReport.gather(context: f.context)
        #expect(info.damagedBackups.map(\.label) == ["L2"])
        #expect(info.damagedBackups[0].reason.contains("describes backup L1, not L2"))
    }
}

// MARK: 4, 7, 11. Restore destinations: what --force may clear, checked in the dry run too.

@Suite struct RestoreDestinationTests {
    func contents(_ entries: [String], dataDirectory: Bool = false, marker: Bool = false) -> RestoreDestination.Contents {
        var c = RestoreDestination.Contents()
        c.exists = true
        c.entries = entries
        c.hasDataDirectoryFiles = dataDirectory
        c.hasRestoreMarker = marker
        return c
    }

    func refusal(_ c: RestoreDestination.Contents, role: RestoreDestination.Role = .dataDirectory, force: Bool = true) -> String {
        do {
            let action = try RestoreDestination.decide(c, role: role, path: "/p", force: force)
            Issue.record("expected a refusal, got \(action)")
        } catch { return "\(error)" }
        return ""
    }

    @Test func theDecisionCaseByCase() throws {
        #expect(try RestoreDestination.decide(.init(), role: .dataDirectory, path: "/p", force: false) == .create)
        #expect(try RestoreDestination.decide(contents([]), role: .dataDirectory, path: "/p", force: false) == .useEmpty)
        #expect(
            try RestoreDestination.decide(contents(["global", "PG_VERSION"], dataDirectory: true), role: .dataDirectory, path: "/p", force: true)
                == .clear(entries: ["PG_VERSION", "global"]))
        #expect(
            try RestoreDestination.decide(
                contents(["base", RestoreDestination.markerName], marker: true), role: .dataDirectory, path: "/p", force: true)
                == .clear(entries: [RestoreDestination.markerName, "base"]))
        #expect(
            try RestoreDestination.decide(contents(["PG_15_202209061"]), role: .tablespace(oid: "16384"), path: "/t", force: true)
                == .clear(entries: ["PG_15_202209061"]))

        var notDirectory = contents([])
        notDirectory.isDirectory = false
        #expect(refusal(notDirectory).contains("exists and is not a directory"))
        #expect(refusal(contents(["x"], dataDirectory: true), force: false).contains("is not empty"))
        var running = contents(["PG_VERSION"], dataDirectory: true)
        running.runningServerPID = 4242
        #expect(refusal(running).contains("(pid 4242) is running"))
        var root = contents(["etc", "usr"], dataDirectory: true)
        root.isFileSystemRoot = true
        #expect(refusal(root).contains("the root of the file system"))
        var parentOfMount = contents(["main", "backups"], dataDirectory: true)
        parentOfMount.mountsBelow = ["backups"]
        #expect(refusal(parentOfMount).contains("file systems are mounted below it (backups)"))
        #expect(refusal(contents(["precious.txt"])).contains("it is not a PostgreSQL data directory"))
        #expect(refusal(contents(["PG_15_202209061", "notes.txt"]), role: .tablespace(oid: "16384")).contains("(notes.txt)"))
        #expect(!RestoreDestination.isTablespaceVersionDirectory("PG_15_"))
        #expect(!RestoreDestination.isTablespaceVersionDirectory("PG_x_1"))
    }

    @Test func forceRefusesADirectoryThatIsNotADataDirectoryAndTouchesNothing() throws {
        let f = try BackupRestoreTests.Fixture()
        let home = f.dir.sub("home")
        _ = f.dir.write("home/thesis.tex", [1, 2, 3])
        let message = failure { _ = try f.restore(into: home, force: true) }
        #expect(message?.contains("is not a PostgreSQL data directory") == true)
        #expect(read(Paths.join(home, "thesis.tex")) == [1, 2, 3])
    }

    @Test func forceNeverTouchesTheRoot() throws {
        let f = try BackupRestoreTests.Fixture()
        let restore = Restore(context: f.context, options: RestoreOptions(pgdata: "/", target: .latest, force: true, restoreCommand: "/x"))
        let message = failure { _ = try restore.plan() }
        #expect(message?.contains("--force will not delete the contents of /") == true)
    }

    @Test(.enabled(if: geteuid() == 0, "mounting a tmpfs needs root"))
    func forceNeverClearsTheParentOfAMountPoint() throws {
        let f = try BackupRestoreTests.Fixture()
        let parent = f.dir.sub("var-lib")
        _ = f.dir.write("var-lib/PG_VERSION", Array("15\n".utf8))
        _ = f.dir.write("var-lib/global/pg_control", [0])
        _ = try #require(f.dir.mountTmpfs("var-lib/mounted", bytes: 1 << 20))
        _ = f.dir.write("var-lib/mounted/keep", [9])
        let message = failure { _ = try f.restore(into: parent, force: true) }
        #expect(message?.contains("file systems are mounted below it (mounted)") == true)
        #expect(read(Paths.join(parent, "mounted/keep")) == [9])
        #expect(FileSystem.exists(Paths.join(parent, "PG_VERSION")))
    }

    @Test func anInterruptedRestoreIsRecognisedAndMayBeForced() throws {
        let f = try BackupRestoreTests.Fixture()
        let target = Paths.join(f.dir.path, "restored")
        // The last part is damaged (a missing one is refused before anything is written): the
        // restore stops half-way, with no pg_control.
        let last = Paths.join(f.dir.path, "store/main/backup/L1", f.manifest.parts.last!.name)
        let saved = read(last)
        var damaged = saved
        damaged[damaged.count / 2] ^= 0x10
        try FileSystem.remove(last)
        _ = f.dir.write("store/main/backup/L1/" + f.manifest.parts.last!.name, damaged)
        #expect(failure { _ = try f.restore(into: target) } != nil)
        #expect(FileSystem.exists(Paths.join(target, RestoreDestination.markerName)))
        #expect(!FileSystem.exists(Paths.join(target, "global/pg_control")))
        try FileSystem.remove(last)
        _ = f.dir.write("store/main/backup/L1/" + f.manifest.parts.last!.name, saved)
        _ = try f.restore(into: target, force: true)
        #expect(FileSystem.exists(Paths.join(target, "global/pg_control")))
        #expect(!FileSystem.exists(Paths.join(target, RestoreDestination.markerName)), "the marker goes once pg_control is in place")
    }

    /// The dry run (Restore.plan) makes every check the real run makes, and names the destination.
    @Test func theDryRunRefusesWhatTheRealRunRefusesAndSaysWhatForceDeletes() throws {
        let f = try BackupRestoreTests.Fixture()
        let occupied = f.dir.sub("occupied")
        _ = f.dir.write("occupied/PG_VERSION", Array("15\n".utf8))
        _ = f.dir.write("occupied/global/pg_control", [0])
        let dry = Restore(context: f.context, options: RestoreOptions(pgdata: occupied, target: .latest, restoreCommand: "/x"))
        #expect(failure { _ = try dry.plan() }?.contains("is not empty") == true)
        let forced = Restore(context: f.context, options: RestoreOptions(pgdata: occupied, target: .latest, force: true, restoreCommand: "/x"))
        let lines = try forced.plan().lines
        #expect(lines.contains("--pgdata \(occupied): --force deletes its 2 entries first: PG_VERSION, global"))
        let fresh = Paths.join(f.dir.path, "fresh")
        #expect(
            try Restore(context: f.context, options: RestoreOptions(pgdata: fresh, target: .latest, restoreCommand: "/x")).plan().lines
                .contains("--pgdata \(fresh): does not exist, will be created"))
        #expect(!FileSystem.exists(fresh))
    }

    @Test func spaceIsCheckedPerFileSystemCountingWhatForceFrees() throws {
        try RestoreSpace.check([.init(path: "/a", device: 1, bytes: 100, available: 100, reclaimable: 0)])
        try RestoreSpace.check([.init(path: "/a", device: 1, bytes: 100, available: 40, reclaimable: 60)])
        try RestoreSpace.check([
            .init(path: "/a", device: 1, bytes: 100, available: 100, reclaimable: 0),
            .init(path: "/t", device: 2, bytes: 50, available: 50, reclaimable: 0)
        ])
        let message = failure {
            try RestoreSpace.check([
                .init(path: "/a", device: 1, bytes: 100, available: 120, reclaimable: 0),
                .init(path: "/t", device: 1, bytes: 50, available: 120, reclaimable: 0)
            ])
        }
        #expect(message?.contains("/a and /t need 150 bytes, but their file system has 120 available") == true)
        #expect(message?.contains("free at least 30 bytes") == true)
    }

    /// A full disk is found before anything is written, with a message about space, not the store.
    @Test(.enabled(if: geteuid() == 0, "mounting a tmpfs needs root"))
    func aDiskTooSmallIsRefusedBeforeWriting() throws {
        let f = try BackupRestoreTests.Fixture(partSize: 1000)
        let small = try #require(f.dir.mountTmpfs("small", bytes: 8192))
        _ = f.dir.write("small/filler", [UInt8](repeating: 1, count: 4096))
        let target = Paths.join(small, "restored")
        let message = failure { _ = try f.restore(into: target) }
        #expect(message?.contains("not enough free space for the restore") == true, "\(message ?? "")")
        #expect(message?.contains("fix the store") == false)
        #expect(!FileSystem.exists(target))
    }
}

extension RestoreDestinationTests {
    /// Space that runs out during the writes anyway (file sizes pass the check, but every file
    /// takes whole pages): the message is about the disk, not the store.
    @Test(.enabled(if: geteuid() == 0, "mounting a tmpfs needs root"))
    func aDiskThatFillsDuringTheRestoreBlamesTheDisk() throws {
        let f = try BackupRestoreTests.Fixture(partSize: 1000)
        let bytes = f.files.values.reduce(0) { $0 + $1.count }
        let small = try #require(f.dir.mountTmpfs("tight", bytes: 16384))
        #expect(try FileSystem.availableBytes(small) >= bytes, "the free-space check must pass for this test to reach the writes")
        let message = failure { _ = try f.restore(into: Paths.join(small, "restored")) }
        #expect(message?.contains("No space left on device") == true, "\(message ?? "")")
        #expect(message?.contains("restore again with --force once that is fixed") == true)
        #expect(message?.contains("fix the store") == false)
    }
}

extension RestoreDestinationTests {
    @Test(.enabled(if: geteuid() == 0, "mounting a tmpfs needs root"))
    func aDestinationThatCannotBeCreatedIsOneLine() throws {
        let f = try BackupRestoreTests.Fixture()
        let readOnly = try #require(f.dir.mountTmpfs("ro", bytes: 1 << 20, readOnly: true))
        let message = failure { _ = try f.restore(into: Paths.join(readOnly, "restored")) }
        #expect(message?.hasPrefix("cannot prepare --pgdata \(readOnly)/restored: ") == true, "\(message ?? "")")
        #expect(message?.contains("read-only") == true)
    }
}

@Suite struct BackupArgumentTests {
    /// The library refuses what the CLI's parser refuses, for callers that are not the CLI.
    @Test func aWALTimeoutThatIsNotAPositiveNumberIsRefusedBeforeConnecting() {
        for value in [Double.nan, .infinity, -1, 0] {
            var backup = Backup(context: makeContext(stores: ["/nonexistent"]))
            backup.walTimeoutSeconds = value
            let message = failure { _ = try backup.run() }
            #expect(message?.contains("is not a positive number of seconds") == true, "\(value)")
        }
    }
}

// MARK: 5. A standby keeps streaming when its archive is unreachable.

@Suite struct RetrievalFailureStatusTests {
    @Test func standbySignalMeansRetryNotShutdown() {
        let dir = TempDir()
        #expect(ExitCodes.retrievalFailure(dataDirectory: dir.path) == 255)
        _ = dir.write("recovery.signal", [])
        #expect(ExitCodes.retrievalFailure(dataDirectory: dir.path) == 255)
        _ = dir.write("standby.signal", [])
        #expect(ExitCodes.retrievalFailure(dataDirectory: dir.path) == 1)
    }
}

// MARK: 8. An archiver that will never bring the backup's WAL.

@Suite struct ArchiverCheckTests {
    let config = "/etc/walvault/walvault.toml"
    func verdict(_ check: ArchiverCheck, same: Bool = true) throws -> [String] {
        try check.verdict(configPath: config) { _, _ in same }
    }

    @Test func refusalsAndWarnings() throws {
        let walvault = "/usr/local/bin/walvault --config /etc/walvault/walvault.toml archive-push %p"
        #expect(try verdict(ArchiverCheck(archiveMode: "on", archiveCommand: walvault)).isEmpty)
        #expect(throws: CommandError.self) { try verdict(ArchiverCheck(archiveMode: "off", archiveCommand: walvault)) }
        #expect(throws: CommandError.self) { try verdict(ArchiverCheck(archiveMode: "on", archiveCommand: "")) }
        let library = failure { _ = try verdict(ArchiverCheck(archiveMode: "on", archiveCommand: walvault, archiveLibrary: "basic_archive")) }
        #expect(library?.contains("archive_library = 'basic_archive' is set") == true)
        let truth = failure { _ = try verdict(ArchiverCheck(archiveMode: "on", archiveCommand: "/bin/true")) }
        #expect(
            truth?.contains("archive_command is '/bin/true', which does not run walvault archive-push, and it has not archived anything yet") == true)
        let otherTool = failure {
            _ = try verdict(
                ArchiverCheck(
                    archiveMode: "on", archiveCommand: "pgbackrest archive-push %p", lastArchivedWAL: "000000010000000000000007",
                    lastArchivedIsInStores: false))
        }
        #expect(otherTool?.contains("the last file it archived, 000000010000000000000007, is not in the stores") == true)
        // A wrapper script that demonstrably archives here is fine.
        #expect(
            try verdict(
                ArchiverCheck(
                    archiveMode: "on", archiveCommand: "/usr/local/bin/archive.sh %p",
                    lastArchivedWAL: "000000010000000000000007", lastArchivedIsInStores: true)
            ).isEmpty)
        let otherConfig = failure {
            _ = try verdict(ArchiverCheck(archiveMode: "on", archiveCommand: "walvault --config=/etc/other.toml archive-push %p"), same: false)
        }
        #expect(otherConfig?.contains("archive_command archives with --config /etc/other.toml") == true)
        let failing = try verdict(
            ArchiverCheck(
                archiveMode: "always", archiveCommand: walvault,
                failing: .init(wal: "000000010000000000000009", time: "2026-11-24 10:00:00+00")))
        #expect(failing.count == 1)
        #expect(failing[0].contains("the archiver is failing (last failure: 000000010000000000000009"))
    }

    /// Issue 24, item 12: archive_command switched (and reloaded) after the last file was archived.
    @Test func aProofFromBeforeTheLastReloadProvesNothing() throws {
        let switched = failure {
            _ = try verdict(
                ArchiverCheck(
                    archiveMode: "on", archiveCommand: "cp %p /mnt/other/%f", lastArchivedWAL: "000000010000000000000007",
                    lastArchivedIsInStores: true, archivedSinceConfigLoad: false))
        }
        #expect(
            switched?.contains(
                "archive_command is 'cp %p /mnt/other/%f', which does not run walvault archive-push, and it has archived nothing since the configuration was last loaded (the last file, 000000010000000000000007, came from the command before)"
            ) == true, "\(switched ?? "")")
        #expect(switched?.contains("SELECT pg_switch_wal()") == true)
        let otherConfig = failure {
            _ = try verdict(
                ArchiverCheck(
                    archiveMode: "on", archiveCommand: "walvault --config /etc/other.toml archive-push %p",
                    lastArchivedWAL: "000000010000000000000007",
                    lastArchivedIsInStores: true, archivedSinceConfigLoad: false), same: false)
        }
        #expect(otherConfig?.contains("archive_command archives with --config /etc/other.toml") == true)
        // Archived since the last load: the same wrapper is proven.
        #expect(
            try verdict(
                ArchiverCheck(
                    archiveMode: "on", archiveCommand: "/usr/local/bin/archive.sh %p", lastArchivedWAL: "000000010000000000000007",
                    lastArchivedIsInStores: true, archivedSinceConfigLoad: true)
            ).isEmpty)
    }

    @Test func configArgumentIsFoundInEitherSpelling() {
        #expect(ArchiverCheck.configArgument(of: "walvault --config /a.toml archive-push %p") == "/a.toml")
        #expect(ArchiverCheck.configArgument(of: "walvault --config='/b.toml' archive-push %p") == "/b.toml")
        #expect(ArchiverCheck.configArgument(of: "walvault archive-push %p") == nil)
    }
}

// MARK: 9. Incomplete backups: how old, and how to remove them.

@Suite struct IncompleteBackupTests {
    @Test func infoSaysHowOldAndWhereToRemove() throws {
        let dir = TempDir()
        let store = dir.sub("store")
        _ = dir.write("store/main/backup/20261124T000000Z/part-000001-\(String(repeating: "a", count: 64)).zst", [1])
        let context = makeContext(stores: [store])
        let now = BackupLabel.startTime("20261124T000000Z")! + 3 * 3_600_000_000
        let info = try InfoReport.gather(context: context, now: now)
        #expect(info.incompleteBackups == ["20261124T000000Z"])
        #expect(info.incomplete[0].age == "3 h")
        #expect(
            info.text.contains(
                "incomplete backup 20261124T000000Z (started 3 h ago, no manifest: interrupted or still running; if no backup is running, remove \(store)/main/backup/20261124T000000Z)"
            ))
    }

    @Test func labelsAndAges() {
        #expect(BackupLabel.startTime("20261123T030000Z") == RecoveryTarget.parseTime("2026-11-23 03:00:00+00"))
        #expect(BackupLabel.startTime("20261123T030000Z-2") == RecoveryTarget.parseTime("2026-11-23 03:00:00+00"))
        #expect(BackupLabel.startTime("L1") == nil)
        #expect(BackupLabel.age(from: 0, to: 90_000_000) == "90 s")
        #expect(BackupLabel.age(from: 0, to: 600_000_000) == "10 min")
        #expect(BackupLabel.age(from: 0, to: 3 * 86_400_000_000) == "3 d")
    }

    @Test func localStoreDeleteRemovesTheEmptiedDirectory() throws {
        let dir = TempDir()
        let store = LocalStore(name: "s", root: dir.sub("store"))
        _ = try store.createSmall(key: "main/backup/L/part-1", contents: [1])
        _ = try store.createSmall(key: "main/backup/L/part-2", contents: [2])
        try store.delete(key: "main/backup/L/part-1")
        #expect(try store.listSubdirectories(directory: "main/backup") == ["L"])
        try store.delete(key: "main/backup/L/part-2")
        try store.delete(key: "main/backup/L/part-2")
        #expect(try store.listSubdirectories(directory: "main/backup").isEmpty)
    }

    /// What walvault writes into a local store leaves the page cache once it is durable: a
    /// pushed segment's object must not take the database's memory (issue 31).
    @Test func aCommittedLocalObjectIsNotLeftInThePageCache() throws {
        let dir = TempDir()
        let store = LocalStore(name: "s", root: dir.sub("store"))
        let writer = try store.makeWriter(directory: "main/wal")
        let bytes = [UInt8](repeating: 7, count: 4 << 20)
        try bytes.withUnsafeBytes { try writer.write($0) }
        guard case .stored(let object) = try writer.commit(name: "object") else {
            Issue.record("the object was not stored")
            return
        }
        let (cached, pages) = try cachedPages(of: dir.path + "/store/" + object.key)
        #expect(cached == 0, "pages still cached: \(cached) of \(pages)")
    }

    /// Once archived, the segment itself leaves the page cache too (PostgreSQL fsyncs a segment
    /// before it asks for it to be archived; the test does the same).
    @Test func anArchivedSegmentIsNotLeftInThePageCache() throws {
        let dir = TempDir()
        let name = seg("000000010000000000000005")
        let path = dir.write("pg_wal/\(name)", makeSegment(name: name))
        let file = try FileDescriptor.open(path, flags: O_RDWR)
        try file.sync()
        let before = try cachedPages(of: path)
        #expect(before.cached == before.pages, "the freshly written segment starts in the cache")
        _ = try ArchivePush(context: makeContext(stores: [dir.sub("store")])).run(walPath: path)
        let after = try cachedPages(of: path)
        #expect(after.cached == 0, "pages still cached: \(after.cached) of \(after.pages)")
    }

    /// How many of the file's pages are in the page cache (mincore over a mapping of it).
    private func cachedPages(of path: String) throws -> (cached: Int, pages: Int) {
        let fd = try FileDescriptor.open(path, flags: O_RDONLY)
        let size = try fd.size()
        let mapped = try #require(mmap(nil, size, PROT_READ, MAP_SHARED, fd.raw, 0))
        defer { munmap(mapped, size) }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let pages = (size + pageSize - 1) / pageSize
        var resident = [UInt8](repeating: 0, count: pages)
        #expect(mincore(mapped, size, &resident) == 0)
        return (resident.filter { $0 & 1 != 0 }.count, pages)
    }
}

// MARK: 10, 12, 14, 17. One line that points the right way.

@Suite struct MessagePointsTheRightWayTests {
    let name = seg("000000010000000000000003")

    @Test func archiveGetBlamesTheDestinationNotTheObject() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        _ = try push(context, dir.write("pg_wal/\(name)", makeSegment(name: name)))
        for destination in [Paths.join(dir.path, "missing/dir/RECOVERYXLOG"), dir.sub("a-directory")] {
            var getter = ArchiveGet(context: context)
            do {
                _ = try getter.run(fileName: name.description, destination: destination)
                Issue.record("expected an error")
            } catch let error as ArchiveGetDestinationError {
                #expect(error.problem.hasPrefix("cannot write \(destination): "))
                #expect(error.fix.contains("restore_command must pass %p"))
                #expect(!"\(error)".contains("repair or replace the object"))
            }
        }
    }

    @Test(.enabled(if: geteuid() == 0, "mounting a tmpfs needs root"))
    func aFullDiskUnderPercentPIsTheDestinationsProblem() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        _ = try push(context, dir.write("pg_wal/\(name)", makeSegment(name: name)))
        let tiny = try #require(dir.mountTmpfs("pg_wal_full", bytes: 64 * 1024))
        var getter = ArchiveGet(context: context)
        do {
            _ = try getter.run(fileName: name.description, destination: Paths.join(tiny, "RECOVERYXLOG"))
            Issue.record("expected an error")
        } catch let error as ArchiveGetDestinationError {
            #expect(error.problem.contains("No space left on device"))
            #expect(error.fix.contains("free space"))
        }
        #expect(filesUnder(tiny).isEmpty, "no partial file under %p or a temporary name")
    }

    @Test func decryptBlamesTheInputDirectoryAndRefusesARenamedObject() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")], keyRing: makeKeyRing())
        let result = try push(context, dir.write("pg_wal/\(name)", makeSegment(name: name)))
        let inputDirectory = dir.sub("an-input-directory")
        let message = failure { _ = try Decrypt(context: context).run(input: inputDirectory, output: Paths.join(dir.path, "o"), compression: nil) }
        #expect(message?.hasPrefix("cannot read --in \(inputDirectory): Is a directory") == true)
        #expect(message?.contains("--out") == false)

        let renamed = Paths.join(dir.path, "segment-from-the-store")
        try FileSystem.writeAtomically(renamed, contents: read(Paths.join(dir.path, "store", result.stored[0].object.key)))
        let refused = failure { _ = try Decrypt(context: context).run(input: renamed, output: Paths.join(dir.path, "o2"), compression: nil) }
        #expect(refused?.contains("its name is not a stored object's") == true)
        #expect(!FileSystem.exists(Paths.join(dir.path, "o2")))
        let unchecked = try Decrypt(context: context).run(input: renamed, output: Paths.join(dir.path, "o3"), compression: .zstd)
        #expect(unchecked.uncheckedWarning?.contains("not checked") == true)
        #expect(read(Paths.join(dir.path, "o3")) == makeSegment(name: name))
        let raw = try Decrypt(context: context).run(input: renamed, output: Paths.join(dir.path, "o4"), compression: CompressionAlgorithm.none)
        #expect(raw.uncheckedWarning?.contains("if the object was compressed, it still is") == true)
    }

    @Test func configPathsThatAreNotConfigsSaySo() throws {
        let dir = TempDir()
        let directory = failure { _ = try ConfigLoader.load(path: dir.sub("etc")) }
        #expect(directory?.contains("must name the TOML file, not a directory") == true)
        #expect(directory?.contains("readable") == false)
        let huge = failure { _ = try ConfigLoader.load(path: dir.write("huge.toml", [UInt8](repeating: 35, count: (1 << 20) + 10))) }
        #expect(huge?.contains("larger than 1 MiB") == true)
        #expect(huge?.contains("readable") == false)
        let nul = failure { _ = try ConfigLoader.load(path: dir.write("nul.toml", Array("[cluster]\nname = \"a".utf8) + [0] + Array("b\"\n".utf8))) }
        #expect(nul?.contains("nul.toml:2: contains a NUL byte") == true)
        #expect(nul?.contains("end-of-file") == false)
    }

    @Test func aStorePathThatIsAFileSaysSo() throws {
        let dir = TempDir()
        let file = dir.write("not-a-directory", [1])
        let context = makeContext(stores: [file])
        let message = failure { _ = try push(context, dir.write("pg_wal/\(name)", makeSegment(name: name))) }
        #expect(message?.contains("store path \(file) is not a directory; set path in the config") == true)
        #expect(failure { _ = try InfoReport.gather(context: context) }?.contains("is not a directory; set path") == true)
    }

    @Test func archivePushOfADirectoryDoesNotBlameTheDisk() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        let message = failure { _ = try push(context, dir.sub("pg_wal/\(name)")) }
        #expect(message?.contains("it is a directory: name a file") == true)
        #expect(message?.contains("check the disk") == false)
    }
}

// MARK: 13, 15, 18, 19, 20.

@Suite struct SmallFixesTests {
    @Test func controlPlaneConnectionErrorsNameTheHistorySetting() throws {
        let message = failure {
            _ = try PostgresConnection(conninfo: "host=/nonexistent/walvault port=1 dbname=x", database: .controlPlane, connectTimeout: 1)
        }
        #expect(message?.contains("check [history] conninfo") == true)
        let cluster = failure { _ = try PostgresConnection(conninfo: "host=/nonexistent/walvault port=1 dbname=x", connectTimeout: 1) }
        #expect(cluster?.contains("check [cluster] conninfo") == true)
    }

    @Test func keyCacheWarningShowsWhatIsThereAndWhatIsNeeded() {
        let dir = TempDir()
        let directory = Paths.join(dir.path, "walvault-\(geteuid())")
        #expect(mkdir(directory, 0o755) == 0)
        _ = chmod(directory, 0o755)
        let warning = KeyCache.open(parent: dir.path).warning ?? ""
        #expect(warning.contains("it has owner uid \(geteuid()) and mode 755, where it must be owned by uid \(geteuid()) (this user) with mode 700"))
    }

    @Test func theJournalMayBeADirectoryOrAFile() throws {
        let dir = TempDir()
        let directory = dir.sub("journal")
        #expect(HistorySettings(conninfo: "", projectID: "p", journal: directory).journalFile == Paths.join(directory, "history.journal"))
        #expect(
            HistorySettings(conninfo: "", projectID: "p", journal: Paths.join(dir.path, "new-dir") + "/").journalFile
                == Paths.join(dir.path, "new-dir/history.journal"))
        let file = Paths.join(dir.path, "journal.log")
        #expect(HistorySettings(conninfo: "", projectID: "p", journal: file).journalFile == file)
        // A record that cannot reach the database waits in the file inside the directory.
        let settings = HistorySettings(conninfo: "host=/nonexistent/walvault port=1 dbname=x", projectID: "p", journal: directory)
        let warning = HistoryRecorder(settings: settings).record([
            HistoryRecord(projectID: "p", type: .wal, operation: "archive", status: .succeeded, retentionDays: nil)
        ])
        #expect(warning?.contains(Paths.join(directory, "history.journal")) == true)
        #expect(HistoryJournal(path: settings.journalFile).pendingCount == 1)
    }

    @Test func damageAfterAGoodKeyCheckIsNotCalledAWrongPassphrase() throws {
        let ring = makeKeyRing()
        let sink = MemorySink()
        let stage = try EncryptStage(key: ring.writingKey(), next: sink)
        try sampleBytes(5000, seed: 2).withUnsafeBytes { try stage.write($0) }
        try stage.finish()
        var sealed = sink.bytes
        sealed[200] ^= 1
        var offset = 0
        let reader = DecryptingReader(object: "o", keyRing: ring) { buffer in
            let n = min(buffer.count, sealed.count - offset)
            sealed.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
            offset += n
            return n
        }
        let message = failure { try StreamPump.pump(reading: reader.read(into:), into: DiscardSink()) }
        #expect(message?.hasPrefix("cannot decrypt o: the object is damaged: chunk 0 fails authentication") == true)
        #expect(message?.contains("the passphrase is right") == true)
        #expect(message.map { $0.utf8.count < 250 } == true)
    }

    @Test func migrationCountsAreSingularOrPlural() {
        #expect(Migrator.Outcome(applied: [], alreadyApplied: ["0001"]).summary == "schema up to date (1 migration applied before)")
        #expect(Migrator.Outcome(applied: [], alreadyApplied: ["0001", "0002"]).summary == "schema up to date (2 migrations applied before)")
        #expect(Migrator.Outcome(applied: ["0002"], alreadyApplied: ["0001"]).summary == "applied 0002")
    }
}

// Issue 11, item 2: archive times walvault records itself.

@Suite struct ArchiveTimeTests {
    @Test func theArchiveTimeRoundTripsThroughTheName() throws {
        let at = RecoveryTarget.parseTime("2026-11-24 11:04:47.000123+00")!
        let name = StoredObjectName(
            originalName: "000000010000000000000003", sha256: String(repeating: "ab", count: 32), compression: .zstd, archivedAt: at)
        #expect(name.description == "000000010000000000000003-20261124T110447000123Z-\(String(repeating: "ab", count: 32)).zst")
        #expect(StoredObjectName(name.description) == name)
        // Names written before walvault recorded times still parse, with no time.
        let old = try #require(StoredObjectName("000000010000000000000003-\(String(repeating: "ab", count: 32)).zst"))
        #expect(old.archivedAt == nil)
        #expect(old.originalName == "000000010000000000000003")
        #expect(StoredObjectName("part-000001-\(String(repeating: "0", count: 64))")?.originalName == "part-000001")
        #expect(
            StoredObjectName("x-20261124T1104470001Z-\(String(repeating: "0", count: 64))")?.archivedAt == nil,
            "a malformed stamp is part of the name")
    }

    /// Every object gets one identical modification time (a copy without -p): the plan for a
    /// target time is the same, because it reads the times walvault recorded in the names.
    @Test func aStoreCopiedWithoutTimesPlansTheSame() throws {
        let f = try BackupRestoreTests.Fixture()
        let store = f.context.stores[0]
        let t3 = RecoveryTarget.parseTime("2026-11-24 10:00:00+00")!
        let t4 = t3 + 600_000_000
        for (number, at) in [(UInt64(3), t3), (4, t4)] {
            let segment = WALSegmentName(timeline: 1, segmentNumber: number, segmentSize: mib16)
            let writer = try store.makeWriter(directory: ArchiveLayout(cluster: "main").directory(for: .segment(segment)))
            _ = try writer.commit(
                name: StoredObjectName(
                    originalName: segment.description, sha256: String(repeating: "c", count: 64),
                    compression: .zstd, archivedAt: at
                ).description)
        }
        var times = [timespec(tv_sec: 978_307_200, tv_nsec: 0), timespec(tv_sec: 978_307_200, tv_nsec: 0)]
        for file in filesUnder(Paths.join(f.dir.path, "store")) {
            #expect(utimensat(AT_FDCWD, Paths.join(f.dir.path, "store", file), &times, 0) == 0)
        }

        let restore = Restore(
            context: f.context, options: RestoreOptions(pgdata: Paths.join(f.dir.path, "r"), target: .time(t3 + 60_000_000), restoreCommand: "/x"))
        let plan = try restore.plan()
        #expect(plan.wal.ranges.last?.last.description == "000000010000000000000004", "WAL must reach the first segment archived after the target")
        // Segment 2 was written without a time (as before 0.2): the plan says its time came from the store.
        #expect(plan.lines.contains { $0.hasPrefix("warning: 1 of these WAL segments were archived before walvault recorded archive times") })
    }
}
