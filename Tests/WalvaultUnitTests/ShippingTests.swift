import Testing
import WalvaultCatalog
import WalvaultConfig
import WalvaultPipeline
import WalvaultPolicy
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultArchive
@testable import WalvaultKit
@testable import WalvaultMaintenance
@testable import WalvaultService
@testable import WalvaultShipping

#if canImport(Glibc)
    import Glibc
#endif

/// A local sync store, a local async store and a spool: shipping without a network.
struct ShippingRig {
    let dir = TempDir()
    let sync: String
    let async: String
    let spool: String
    let context: WalvaultContext

    init(maxQueueBytes: Int = 4096 << 20, keyRing: KeyRing? = nil, parallel: Int = 4) {
        sync = dir.sub("sync")
        async = dir.sub("async")
        spool = dir.sub("spool")
        let settings = [
            StoreSettings(name: "local", kind: .local(path: sync)), StoreSettings(name: "offsite", kind: .local(path: async), mode: .async)
        ]
        let config = WalvaultConfig(
            path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", spool: spool),
            compression: CompressionSettings(algorithm: .zstd), stores: settings,
            encryption: keyRing.map { _ in EncryptionSettings(passphrase: .environment("X")) },
            shipping: ShippingSettings(parallel: parallel, maxQueueBytes: maxQueueBytes))
        context = WalvaultContext(config: config, stores: settings.map { try! WalvaultContext.makeStore($0) }, keyRing: keyRing)
    }

    func push(_ name: String, seed: UInt64 = 1) throws -> ArchivePushResult {
        let segment = seg(name)
        return try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(name)", makeSegment(name: segment, seed: seed)))
    }

    func queue() throws -> ShippingQueue { try ShippingQueue.open(spool: spool, store: "offsite") }
}

@Suite struct ShipPlanTests {
    func entry(_ at: Int64, _ name: String = "x") -> ShippingQueue.Entry {
        ShippingQueue.Entry(fileName: String(repeating: "0", count: 16 - String(at).count) + "\(at)-10-\(name)")!
    }

    @Test func manifestsWaitForEverythingQueuedBeforeThem() {
        let queue = [
            (entry(1), "main/backup/L/part-000001-a.zst"), (entry(2), "main/backup/L/backup.manifest"),
            (entry(3), "main/backup/L/backup.manifest.copy"), (entry(4), "main/wal/0000000100000000/seg-b.zst")
        ]
        let first = ShipPlan.ready(queue)
        #expect(first.objects.map(\.key) == ["main/backup/L/part-000001-a.zst", "main/wal/0000000100000000/seg-b.zst"])
        #expect(first.manifests.isEmpty)
        let afterPart = ShipPlan.ready(Array(queue.dropFirst()))
        // A WAL segment queued after the manifest does not hold it back.
        #expect(afterPart.manifests.map(\.key) == ["main/backup/L/backup.manifest", "main/backup/L/backup.manifest.copy"])
        #expect(ShipPlan.ready([] as [(entry: ShippingQueue.Entry, key: String)]).objects.isEmpty)
        #expect(ShipPlan.isManifest("main/backup/L/backup.manifest.copy"))
        #expect(!ShipPlan.isManifest("main/backup/L/part-000001-backup.manifest.zst"))
    }

    @Test func aBackupNeedsItsPartsAndTheWALFromStartToStop() {
        var manifest = BackupManifest(
            label: "L", cluster: "main", systemIdentifier: "1", postgresVersion: 150000, walSegmentSize: 16 << 20, timeline: 1,
            startLSN: LSN(0x2000028), stopLSN: LSN(0x4000100), startTime: 0, stopTime: 1, walvaultVersion: "t",
            compression: "zstd", backupLabel: "", tablespaceMap: nil, tablespaces: [], parts: [], entries: [])
        manifest.parts = [
            .init(name: "data-000001-a.zst", number: 1, size: 1, storedSize: 1, sha256: "a"),
            .init(name: "data-000002-b.zst", number: 2, size: 1, storedSize: 1, sha256: "b")
        ]
        #expect(
            ShipPlan.requiredSegments(of: manifest).map(\.description) == [
                "000000010000000000000002", "000000010000000000000003", "000000010000000000000004"
            ])
        let all = Set(ShipPlan.requiredSegments(of: manifest))
        #expect(ShipPlan.missing(for: manifest, partsPresent: ["L/data-000001-a.zst", "L/data-000002-b.zst"], segmentsPresent: all).isEmpty)
        #expect(ShipPlan.missing(for: manifest, partsPresent: ["L/data-000001-a.zst"], segmentsPresent: all) == ["L/data-000002-b.zst"])
        // An incremental also needs the parts it reads of an earlier backup.
        var incremental = manifest
        incremental.references = [.init(label: "K", parts: [.init(name: "data-000003-c.zst", number: 3, size: 1, storedSize: 1, sha256: "c")])]
        #expect(
            ShipPlan.missing(for: incremental, partsPresent: ["L/data-000001-a.zst", "L/data-000002-b.zst"], segmentsPresent: all) == [
                "K/data-000003-c.zst"
            ])
        #expect(
            ShipPlan.missing(
                for: manifest, partsPresent: ["L/data-000001-a.zst", "L/data-000002-b.zst"],
                segmentsPresent: all.subtracting([seg("000000010000000000000003")]))
                == ["000000010000000000000003"])
        // A stop LSN exactly on a boundary needs nothing of the next segment.
        manifest.stopLSN = LSN(0x3000000)
        #expect(ShipPlan.requiredSegments(of: manifest).map(\.description) == ["000000010000000000000002"])
    }
}

@Suite struct ShippingQueueTests {
    @Test func entriesAreDurableOrderedAndCarryTheirKey() throws {
        let dir = TempDir()
        let queue = try ShippingQueue.open(spool: dir.path, store: "b2")
        try queue.enqueue(key: "main/wal/b", size: 20, at: 2_000)
        try queue.enqueue(key: "main/wal/a", size: 10, at: 1_000)
        let entries = try queue.entries()
        #expect(entries.map(\.size) == [10, 20])
        #expect(try entries.map { try queue.key(of: $0) } == ["main/wal/a", "main/wal/b"])
        try queue.remove(entries[0])
        try queue.remove(entries[0])  // twice: harmless
        #expect(try queue.entries().count == 1)
        // A crash before the rename leaves a temporary file: never an entry, cleared later.
        _ = dir.write("queue/b2/.tmp-0000000000003000-5-abcd", Array("main/wal/c\n".utf8))
        #expect(try queue.entries().count == 1)
        queue.removeAbandonedTemporaries(olderThanMicros: 0, now: WallClock.nowMicros() + 1_000_000)
        #expect(!FileSystem.exists(Paths.join(queue.directory, ".tmp-0000000000003000-5-abcd")))
    }

    @Test func aMissingSpoolIsOneClearLine() {
        #expect(throws: RepositoryError.self) { _ = try ShippingQueue.open(spool: "/nonexistent/spool", store: "b2") }
        do { _ = try ShippingQueue.open(spool: "/nonexistent/spool", store: "b2") } catch {
            #expect("\(error)".contains("the spool directory /nonexistent/spool does not exist"))
            #expect("\(error)".contains("install -d -o postgres"))
        }
    }
}

@Suite struct ShipTests {
    @Test(arguments: [false, true])
    func archivePushQueuesAndShipCopiesByteForByte(encrypted: Bool) throws {
        let rig = ShippingRig(keyRing: encrypted ? makeKeyRing() : nil)
        var names: [String] = []
        for i in 1...6 {
            let name = "00000001000000000000000\(i)"
            let result = try rig.push(name, seed: UInt64(i))
            #expect(result.queuedFor == ["offsite"])
            #expect(result.stored.map(\.store) == ["local"], "the async store is not written by archive-push")
            names.append(name)
        }
        #expect(filesUnder(rig.async).isEmpty)
        #expect(try rig.queue().entries().count == 6)

        let report = try Ship(context: rig.context).run()
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.shipped == 6 + 2, "six segments and the two info files")
        // The history's rows: one per segment made durable off-site (the binding is not an object of the archive).
        #expect(report.stored.count == 6 && report.stored.allSatisfy { $0.store == "offsite" && $0.key.hasPrefix("main/wal/") && $0.handle == nil })
        #expect(try rig.queue().entries().isEmpty)
        // Exactly the same objects, byte for byte (encrypted ones included: copied, not re-encrypted).
        #expect(filesUnder(rig.async) == filesUnder(rig.sync).filter { !$0.hasPrefix(".") && !$0.contains("/.") })
        for file in filesUnder(rig.async) {
            #expect(read(Paths.join(rig.async, file)) == read(Paths.join(rig.sync, file)), "\(file)")
        }
        // The async store alone restores every segment.
        let alone = WalvaultContext(
            config: WalvaultConfig(
                path: "/t", cluster: ClusterSettings(name: "main"), compression: CompressionSettings(),
                stores: [StoreSettings(name: "offsite", kind: .local(path: rig.async))]),
            stores: [try WalvaultContext.makeStore(StoreSettings(name: "offsite", kind: .local(path: rig.async)))],
            keyRing: encrypted ? makeKeyRing() : nil)
        for (i, name) in names.enumerated() {
            let out = rig.dir.sub("out") + "/\(name)"
            var get = ArchiveGet(context: alone)
            _ = try get.run(fileName: name, destination: out)
            #expect(read(out) == makeSegment(name: seg(name), seed: UInt64(i + 1)))
        }
        // A second ship has nothing to do; a re-sent segment is queued again and found there.
        #expect(try Ship(context: rig.context).run().shipped == 0)
        _ = try rig.push(names[0], seed: 1)
        let again = try Ship(context: rig.context).run()
        #expect(again.alreadyThere == 1 && again.shipped == 0)
    }

    @Test func aCorruptSourceObjectIsNeverShippedAndStaysQueued() throws {
        let rig = ShippingRig()
        _ = try rig.push("000000010000000000000001")
        let object = try #require(filesUnder(rig.sync).first { $0.contains("/wal/0000000100000000/") })
        var bytes = read(Paths.join(rig.sync, object))
        bytes[bytes.count / 2] ^= 0xFF
        try FileSystem.writeAtomically(Paths.join(rig.sync, object), contents: bytes)
        let report = try Ship(context: rig.context).run()
        #expect(report.failures.count == 1)
        #expect(report.failures.first?.contains("offsite") == true)
        #expect(!FileSystem.exists(Paths.join(rig.async, object)))
        #expect(!filesUnder(rig.async).contains { $0.contains("/wal/0000000100000000/") }, "nothing half-copied under any name")
        #expect(try rig.queue().entries().count == 1)
    }

    @Test func aFullQueueStillArchivesThenCatchUpShipsWhatWasNotQueued() throws {
        let rig = ShippingRig(maxQueueBytes: 1)  // nothing fits
        let result = try rig.push("000000010000000000000001")
        #expect(result.stored.map(\.store) == ["local"])
        #expect(result.queuedFor.isEmpty)
        #expect(result.notQueuedFor.map(\.store) == ["offsite"])
        #expect(result.notQueuedFor.first?.warnNow == true)
        #expect(result.notQueuedFor.first?.message.contains("is full") == true)
        // Said once a minute, not at every push.
        #expect(try rig.push("000000010000000000000002").notQueuedFor.first?.warnNow == false)
        #expect(try rig.queue().entries().isEmpty)
        let report = try Ship(context: rig.context).run()
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(filesUnder(rig.async).filter { $0.contains("/wal/0000000100000000/") }.count == 2)
        #expect(!FileSystem.exists(try rig.queue().overflowMarker))
    }

    @Test func anEntryWhoseObjectIsGoneFromEverySyncStoreIsDroppedAndSaid() throws {
        let rig = ShippingRig()
        try rig.queue().enqueue(
            key: "main/wal/0000000100000000/000000010000000000000009-20261124T000000000000Z-\(String(repeating: "a", count: 64)).zst", size: 5)
        let report = try Ship(context: rig.context).run()
        #expect(report.dropped.count == 1)
        #expect(try rig.queue().entries().isEmpty)
    }

    @Test func oneShipperAtATime() throws {
        let rig = ShippingRig()
        _ = try rig.push("000000010000000000000001")
        let lock = try FileDescriptor.open(Ship.lockPath(spool: rig.spool), flags: O_RDWR | O_CREAT)
        #expect(try lock.tryLockExclusive())
        #expect(try Ship(context: rig.context).run().busy)
        try lock.close()
        #expect(try !Ship(context: rig.context).run().busy)
    }

    @Test func infoShowsTheShippingLag() throws {
        let rig = ShippingRig()
        _ = try rig.push("000000010000000000000001")
        _ = try rig.push("000000010000000000000002")
        let report = try InfoReport.gather(context: rig.context, now: WallClock.nowMicros() + 5_000_000)
        let offsite = try #require(report.stores.first { $0.name == "offsite" })
        #expect(offsite.mode == "async")
        #expect(offsite.queuedObjects == 2)
        #expect((offsite.oldestQueuedSeconds ?? 0) >= 5)
        #expect(report.stores.first { $0.name == "local" }?.queuedObjects == nil)
        #expect(report.text.contains("2 objects"))
        #expect(report.text.contains("waiting to ship"))
    }
}

@Suite struct UnreachableStoreTests {
    /// info and restore go on with the stores they can read and name the one they cannot; with
    /// none readable, the error is the answer.
    @Test func anUnreachableStoreIsNamedAndLeftOutNeverFatalAlone() throws {
        let rig = ShippingRig()
        _ = try rig.push("000000010000000000000001")
        let unreachable = S3Store(
            name: "cloud", endpoint: "http://127.0.0.1:9", region: "us-east-1", bucket: "nowhere", prefix: "", pathStyle: true,
            accessKeyID: "AKIA", secret: SecretBytes(count: 4), policy: RetryingStore.Policy(attempts: 1))
        let local = WalvaultContext.wrap(rig.context.rawStores[0], keyRing: nil)
        let layout = ArchiveLayout(cluster: "main")
        let inventory = try Inventory.read(stores: [local, UnencryptedStore(base: unreachable)], layout: layout, skippingUnreadable: true)
        #expect(Array(inventory.unreadableStores.keys) == ["cloud"])
        #expect(inventory.unreadableStores["cloud"]?.contains("s3://nowhere") == true)
        #expect(inventory.segments.count == 1)
        #expect(throws: StoreError.self) {
            _ = try Inventory.read(stores: [UnencryptedStore(base: unreachable)], layout: layout, skippingUnreadable: true)
        }
        // Without the flag (what nothing but tests use now), one bad store stops the read.
        #expect(throws: StoreError.self) { _ = try Inventory.read(stores: [local, UnencryptedStore(base: unreachable)], layout: layout) }
    }
}

@Suite struct ShippedHistoryTests {
    /// The history's file_id of an object in Telegram is its document's file_id, not a path.
    @Test func shippedObjectsAreRowsWithTheServicesHandle() {
        let rig = ShippingRig()
        let settings = HistorySettings(conninfo: "", projectID: "p", journal: "/j", retentionDays: 30)
        let sha = String(repeating: "a", count: 64)
        let rows = HistoryEvents.shippedRows(
            settings, context: rig.context,
            shipped: [
                Ship.Shipped(
                    store: "telegram", key: "main/wal/0000000100000000/000000010000000000000003-20261124T110447123456Z-\(sha).zst", size: 1234,
                    handle: "BQACAgIAAxkDAAI"),
                Ship.Shipped(store: "offsite", key: "main/backup/L/part-000001-\(sha).zst", size: 99, handle: nil)
            ], durationMs: 5)
        #expect(rows.count == 2)
        #expect(rows[0].fileID == "BQACAgIAAxkDAAI")
        #expect(rows[0].storeName == "telegram")
        #expect(rows[0].objectName == "000000010000000000000003")
        #expect(rows[0].type == .wal)
        #expect(rows[0].operation == "ship")
        #expect(rows[0].storedSize == 1234)
        #expect(rows[0].sha256 == sha)
        #expect(rows[1].type == .database)
        #expect(rows[1].fileID == rig.async + "/main/backup/L/part-000001-\(sha).zst")
    }
}
