import Testing
import WalvaultConfig
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultAlerts
@testable import WalvaultArchive
@testable import WalvaultCatalog
@testable import WalvaultKit
@testable import WalvaultMaintenance
@testable import WalvaultShipping

/// `walvault expire --dry-run` over real stores: per-store windows, reasons, JSON.
@Suite struct ExpireTests {
    static let day: Int64 = 86_400_000_000

    /// A local and an "offsite" local store holding the same archive: segments 1..N, one a day, and
    /// backups whose manifests name their start segment and stop time.
    func rig(localDays: Int?, retentionDays: Int?) throws -> (TempDir, WalvaultContext, now: Int64) {
        let dir = TempDir()
        let settings = [
            StoreSettings(name: "local", kind: .local(path: dir.sub("local")), retentionDays: localDays),
            StoreSettings(name: "offsite", kind: .local(path: dir.sub("offsite")))
        ]
        let config = WalvaultConfig(
            path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", spool: dir.sub("spool")),
            compression: CompressionSettings(algorithm: .zstd),
            stores: settings, retention: retentionDays.map { RetentionSettings(days: $0) })
        let context = WalvaultContext(config: config, stores: try settings.map { try WalvaultContext.makeStore($0) })
        for i in 1...12 {
            let name = "0000000100000000000000" + String(0x100 + i, radix: 16).uppercased().suffix(2)
            _ = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(name)", makeSegment(name: seg(name), seed: UInt64(i))))
        }
        let now = WallClock.nowMicros()
        let layout = ArchiveLayout(cluster: "main")
        for (daysAgo, start) in [(50, 2), (20, 5), (3, 9)] as [(Int64, UInt64)] {
            let manifest = Self.manifest(stop: now - daysAgo * Self.day, startSegment: start)
            for store in context.stores { #expect(try store.createSmall(key: layout.manifestKey(manifest.label), contents: try manifest.encoded())) }
        }
        return (dir, context, now)
    }

    static func manifest(stop: Int64, startSegment start: UInt64) -> BackupManifest { emptyManifest(stop: stop, startSegment: start) }

    /// Issue 24, item 6: a moment later than now only forecasts, unless forced.
    @Test func aFutureAsOfIsAForecastWithoutForce() {
        let now = WallClock.nowMicros()
        #expect(Expire.isForecast(asOf: now + 1, now: now, force: false))
        #expect(!Expire.isForecast(asOf: now + 1, now: now, force: true))
        #expect(!Expire.isForecast(asOf: now, now: now, force: false))
        #expect(!Expire.isForecast(asOf: now - Self.day, now: now, force: false))
    }

    /// notify_before_days: what the same rule deletes that many days ahead, said once per backup.
    @Test func backupsAboutToExpireAreNamedAheadAndNoticedOnce() throws {
        let (dir, base, now) = try rig(localDays: nil, retentionDays: 30)
        defer { _ = dir }
        var config = base.config
        config.retention = RetentionSettings(days: 30, notifyBeforeDays: 15)
        config.alerts = AlertSettings()
        let context = WalvaultContext(config: config, stores: base.rawStores)
        let report = try Expire(context: context).run(asOf: now)
        // Today the 50-day backup is the newest one older than the window; in 15 days the 20-day one is.
        let fifty = BackupLabel.make(now - 50 * Self.day - 60_000_000)
        #expect(report.upcoming.map(\.label) == [fifty, fifty])
        #expect(report.upcoming.map(\.store) == ["local", "offsite"])
        #expect(report.text.contains("backup \(fifty) will expire by "))
        // Once per backup: the state remembers what was said.
        let notifier = try #require(Notifier(context: context))
        let state = try String(contentsOfFile: notifier.statePath, encoding: .utf8)
        #expect(state.contains("expiring local \(fifty)") && state.contains("expiring offsite \(fifty)"))
        _ = try Expire(context: context).run(asOf: now)
        #expect(try String(contentsOfFile: notifier.statePath, encoding: .utf8).components(separatedBy: "expiring local").count == 2)
        // Without notify_before_days nothing is looked ahead.
        #expect(try Expire(context: base).run(asOf: now).upcoming.isEmpty)
    }

    @Test func eachStoreIsPlannedWithItsOwnWindowAndEveryDecisionSaysWhy() throws {
        let (dir, context, now) = try rig(localDays: 7, retentionDays: 30)
        defer { _ = dir }
        let report = try Expire(context: context).plan(asOf: now)
        #expect(report.stores.map(\.store) == ["local", "offsite"])
        #expect(report.stores.map(\.days) == [7, 30])
        let local = report.stores[0]
        let offsite = report.stores[1]
        // local keeps 7 days: the 3-day backup (newest) and the 20-day one (newest older than the window).
        #expect(local.keep.filter { $0.kind == "backup" }.count == 2)
        #expect(local.delete.filter { $0.kind == "backup" }.count == 1)
        #expect(
            local.delete.filter { $0.kind == "segment" }.map(\.name) == [
                "000000010000000000000001", "000000010000000000000002",
                "000000010000000000000003", "000000010000000000000004"
            ])
        // offsite keeps 30 days: the 20-day and 3-day backups are inside, the 50-day one is the newest older.
        #expect(offsite.delete.filter { $0.kind == "backup" }.isEmpty)
        #expect(offsite.delete.map(\.name) == ["000000010000000000000001"])
        #expect((local.keep + local.delete + offsite.keep + offsite.delete).allSatisfy { !$0.reason.isEmpty })
        #expect(report.text.contains("store \"local\" (keeps 7 days):"))
        #expect(
            report.text.contains(
                "delete 4 WAL segments (000000010000000000000001 .. 000000010000000000000004): before the start of the oldest kept backup"))
        #expect(try report.json().contains("\"asOf\""))
        // --as-of: a year later, only the newest backup and its WAL stay.
        let later = try Expire(context: context).plan(asOf: now + 365 * Self.day)
        #expect(later.stores[1].keep.filter { $0.kind == "backup" }.count == 1)
        // Planning deletes nothing.
        #expect(filesUnder(dir.sub("local")).filter { $0.contains("/wal/") }.count == 12)
    }

    @Test func withoutRetentionItIsOneClearLine() throws {
        let (dir, context, now) = try rig(localDays: nil, retentionDays: nil)
        defer { _ = dir }
        do {
            _ = try Expire(context: context).plan(asOf: now)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("no retention is configured"))
            #expect("\(error)".contains("[retention]"))
        }
    }

    @Test func expireDeletesExactlyThePlanManifestFirstAndIsIdempotent() throws {
        let (dir, context, now) = try rig(localDays: 7, retentionDays: 30)
        defer { _ = dir }
        let layout = ArchiveLayout(cluster: "main")
        // Give every backup a part, so that the order of deletion can be seen.
        let labels = try context.stores[0].listSubdirectories(directory: layout.backupRoot)
        for label in labels {
            for store in context.stores {
                #expect(
                    try store.createSmall(key: layout.backupDirectory(label) + "/part-000001-" + String(repeating: "a", count: 64), contents: [1]))
            }
        }
        let plan = try Expire(context: context).plan(asOf: now)
        let report = try Expire(context: context).run(asOf: now)
        #expect(report.stores == plan.stores, "what is deleted is what the dry run said")
        #expect(report.deletedObjects == ["local": 1 + 4, "offsite": 1])
        let localWAL = filesUnder(dir.sub("local")).filter { $0.contains("/wal/0000000100000000/") }
        #expect(localWAL.count == 8)
        #expect(!localWAL.contains { $0.contains("000000010000000000000004-") })
        #expect(try context.stores[0].listSubdirectories(directory: layout.backupRoot).count == 2)
        #expect(try context.stores[1].listSubdirectories(directory: layout.backupRoot).count == 3)
        // Again: nothing left to delete.
        let again = try Expire(context: context).run(asOf: now)
        #expect(again.deletedObjects == ["local": 0, "offsite": 0])
    }

    @Test func anInterruptedExpireIsFinishedByTheNextRun() throws {
        let (dir, context, now) = try rig(localDays: 7, retentionDays: 30)
        defer { _ = dir }
        let layout = ArchiveLayout(cluster: "main")
        let oldest = try #require(try context.stores[0].listSubdirectories(directory: layout.backupRoot).sorted().first)
        _ = try context.stores[0].createSmall(
            key: layout.backupDirectory(oldest) + "/part-000001-" + String(repeating: "b", count: 64), contents: [1])
        // Killed after the manifests went, before the parts: the backup reads as incomplete, never complete.
        try context.stores[0].delete(key: layout.manifestKey(oldest))
        try context.stores[0].delete(key: layout.manifestCopyKey(oldest))
        let inventory = try Inventory.read(stores: [context.stores[0]], layout: layout)
        #expect(inventory.incompleteBackups == [oldest])
        #expect(!inventory.backups.map(\.label).contains(oldest))
        let report = try Expire(context: context).run(asOf: now)
        #expect(report.stores[0].delete.contains { $0.kind == "incomplete backup" && $0.name == oldest })
        #expect(!(try context.stores[0].listSubdirectories(directory: layout.backupRoot)).contains(oldest))
    }

    /// An inventory keeps summaries; the backup a restore or an incremental needs is read again
    /// whole, and one whose manifest went away or bad meanwhile is one clear error naming it.
    @Test func aBackupIsReadWholeAgainAndOneGoneOrDamagedSinceIsNamed() throws {
        let (dir, context, _) = try rig(localDays: 7, retentionDays: 30)
        defer { _ = dir }
        let layout = ArchiveLayout(cluster: "main")
        let store = context.stores[0]
        let inventory = try Inventory.read(stores: [store], layout: layout)
        let labels = inventory.backups.map(\.label).sorted()
        #expect(labels.count >= 2)
        #expect(inventory.backups.allSatisfy { $0.isSummary })
        let whole = try inventory.manifest(labels[0], layout: layout)
        #expect(!whole.isSummary && whole.label == labels[0])

        try store.delete(key: layout.manifestKey(labels[0]))
        try store.delete(key: layout.manifestCopyKey(labels[0]))
        let gone = try #require(throws: CatalogError.self) { _ = try inventory.manifest(labels[0], layout: layout) }
        #expect(gone.problem.contains("backup \(labels[0])'s manifest vanished from store \"\(store.name)\""))

        try store.delete(key: layout.manifestKey(labels[1]))
        #expect(try store.createSmall(key: layout.manifestKey(labels[1]), contents: Array("{not json".utf8)))
        try? store.delete(key: layout.manifestCopyKey(labels[1]))
        let damaged = try #require(throws: CatalogError.self) { _ = try inventory.manifest(labels[1], layout: layout) }
        #expect(damaged.problem.contains("backup \(labels[1])'s manifest cannot be read again"))
        #expect(damaged.problem.contains("cannot be parsed"))

        let unknown = try #require(throws: CatalogError.self) { _ = try inventory.manifest("19990101T000000Z", layout: layout) }
        #expect(unknown.problem == "no store holds a complete backup 19990101T000000Z")
    }

    @Test func expireRefusesWhileABackupOrRestoreHoldsTheLock() throws {
        let (dir, context, now) = try rig(localDays: 7, retentionDays: 30)
        defer { _ = dir }
        var config = context.config
        config.cluster.spool = dir.sub("spool")
        let locked = WalvaultContext(config: config, stores: context.rawStores)
        let shared = try #require(try ClusterLock.acquire(.shared, config: config))
        do {
            _ = try Expire(context: locked).run(asOf: now)
            Issue.record("expected a refusal")
        } catch {
            #expect("\(error)".contains("a backup or a restore of cluster \"main\" is running"))
            #expect("\(error)".contains("nothing was deleted"))
        }
        _ = shared
        #expect(filesUnder(dir.sub("local")).filter { $0.contains("/wal/") }.count == 12)
        // A dry run needs no lock.
        #expect(try Expire(context: locked).plan(asOf: now).stores.count == 2)
    }
}
