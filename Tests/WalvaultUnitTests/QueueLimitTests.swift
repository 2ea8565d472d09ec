import Testing
import WalvaultCatalog
import WalvaultConfig
import WalvaultPolicy
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultBackup
@testable import WalvaultExports
@testable import WalvaultKit
@testable import WalvaultShipping

/// `[shipping] max_queue_mb` is one policy (`AsyncQueueing`) for archive-push, backup, dump and
/// export-logs: a full queue takes nothing, the operation succeeds and says so once, and the
/// overflow marker makes the next ship catch up by listing.
@Suite struct QueueLimitTests {
    @Test func theRuleIsAllOrNothingAgainstTheLimit() {
        #expect(ShipPlan.fits(backlog: 0, adding: 10, limit: 10))
        #expect(!ShipPlan.fits(backlog: 1, adding: 10, limit: 10))
        #expect(ShipPlan.fits(backlog: 5, adding: 0, limit: 5))
    }

    func backupContext(_ f: BackupSessionTests.Fixture, maxQueueBytes: Int) -> (WalvaultContext, String) {
        let spool = f.dir.sub("spool")
        let settings = [
            StoreSettings(name: "store1", kind: .local(path: f.store)),
            StoreSettings(name: "offsite", kind: .local(path: f.dir.sub("offsite")), mode: .async)
        ]
        let config = WalvaultConfig(
            path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", pgdata: f.pgdata, conninfo: "host=/fake", spool: spool),
            compression: CompressionSettings(algorithm: .zstd), stores: settings,
            shipping: ShippingSettings(parallel: 2, maxQueueBytes: maxQueueBytes))
        return (WalvaultContext(config: config, stores: settings.map { try! WalvaultContext.makeStore($0) }), spool)
    }

    func backUp(_ f: BackupSessionTests.Fixture, _ context: WalvaultContext) throws -> (BackupReport, EventLog) {
        let session = BackupSessionTests.FakeSession(context: context, pgdata: f.pgdata, walDirectory: f.dir.sub("pg_wal"))
        var backup = Backup(context: context)
        backup.partSize = 20_000
        backup.openSession = { _ in session }
        let events = EventLog()
        return (try backup.run(events: events), events)
    }

    @Test func aBackupFitsWholeOrIsNotQueuedAndSaysSo() throws {
        let roomy = try BackupSessionTests.Fixture()
        let (context, spool) = backupContext(roomy, maxQueueBytes: 64 << 20)
        let (report, _) = try backUp(roomy, context)
        #expect(report.queuedFor == ["offsite"])
        let queued = try ShippingQueue.open(spool: spool, store: "offsite")
        #expect(try queued.entries().count >= report.manifest.parts.count + 2, "every part, the manifest and its copy")

        // A queue too small for anything: neither the backup's WAL nor the backup is queued.
        let tight = try BackupSessionTests.Fixture()
        let (small, tightSpool) = backupContext(tight, maxQueueBytes: 1)
        let (tightReport, events) = try backUp(tight, small)
        #expect(tightReport.queuedFor.isEmpty)
        let warnings = events.events.compactMap { event -> String? in
            if case .warning(let text) = event { return text }
            return nil
        }
        #expect(
            warnings.contains {
                $0.hasPrefix("the shipping queue for store \"offsite\" is full")
                    && $0.contains("backup \(tightReport.manifest.label) is safe in the sync stores")
            },
            "\(warnings)")
        let queue = try ShippingQueue.open(spool: tightSpool, store: "offsite")
        #expect(try queue.entries().isEmpty)
        #expect(try queue.entries().compactMap { try queue.key(of: $0) }.allSatisfy { !$0.contains("/backup/") }, "no part of the backup was queued")
        #expect(FileSystem.exists(queue.overflowMarker))
        #expect(
            FileSystem.exists(Paths.join(tight.store, "main/backup/\(tightReport.manifest.label)/backup.manifest")),
            "the backup is complete all the same")
    }

    /// A dump goes through ExportWriter: a full queue keeps it in the sync stores only, and says so.
    @Test func aDumpIsNotQueuedIntoAFullQueue() throws {
        let rig = ShippingRig(maxQueueBytes: 1)
        let layout = ArchiveLayout(cluster: "main")
        let writer = try ExportWriter(
            context: rig.context, directory: layout.dumpDirectory("tenant_a"), time: 1_795_000_000_000_000,
            format: .custom, compression: .zstd, level: 3)
        let bytes = [UInt8](repeating: 7, count: 100_000)
        try bytes.withUnsafeBytes { try writer.write($0) }
        let stored = try writer.commit()
        #expect(stored.queuedFor.isEmpty)
        #expect(stored.notQueued.count == 1 && stored.notQueued[0].contains("store \"offsite\" is full"), "\(stored.notQueued)")
        #expect(try rig.queue().entries().isEmpty)
        #expect(FileSystem.exists(try rig.queue().overflowMarker))
        #expect(try ExportListing.list(.dumps, stores: rig.context.stores, layout: layout).count == 1)
        // The next ship catches up by listing and delivers it.
        _ = try Ship(context: rig.context).run()
        #expect(try rig.context.rawStores[1].list(directory: layout.dumpDirectory("tenant_a"), namePrefix: "").count == 1)
    }
}
