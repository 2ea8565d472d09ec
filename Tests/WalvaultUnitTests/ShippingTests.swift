#if canImport(Glibc)
import Glibc
#endif
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
@testable import WalvaultService
@testable import WalvaultMaintenance
@testable import WalvaultShipping

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
        let settings = [StoreSettings(name: "local", kind: .local(path: sync)), StoreSettings(name: "offsite", kind: .local(path: async), mode: .async)]
        let config = WalvaultConfig(path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", spool: spool),
                                    compression: CompressionSettings(algorithm: .zstd), stores: settings, encryption: keyRing.map { _ in EncryptionSettings(passphrase: .environment("X")) },
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
        let queue = [(entry(1), "main/backup/L/part-000001-a.zst"), (entry(2), "main/backup/L/backup.manifest"),
                     (entry(3), "main/backup/L/backup.manifest.copy"), (entry(4), "main/wal/0000000100000000/seg-b.zst")]
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
        var manifest = BackupManifest(label: "L", cluster: "main", systemIdentifier: "1", postgresVersion: 150000, walSegmentSize: 16 << 20, timeline: 1,
                                      startLSN: LSN(0x2000028), stopLSN: LSN(0x4000100), startTime: 0, stopTime: 1, walvaultVersion: "t",
                                      compression: "zstd", backupLabel: "", tablespaceMap: nil, tablespaces: [], parts: [], entries: [])
        manifest.parts = [.init(name: "part-000001-a.zst", size: 1, storedSize: 1, sha256: "a"), .init(name: "part-000002-b.zst", size: 1, storedSize: 1, sha256: "b")]
        #expect(ShipPlan.requiredSegments(of: manifest).map(\.description) == ["000000010000000000000002", "000000010000000000000003", "000000010000000000000004"])
        let all = Set(ShipPlan.requiredSegments(of: manifest))
        #expect(ShipPlan.missing(for: manifest, partsPresent: ["part-000001-a.zst", "part-000002-b.zst"], segmentsPresent: all).isEmpty)
        #expect(ShipPlan.missing(for: manifest, partsPresent: ["part-000001-a.zst"], segmentsPresent: all) == ["part-000002-b.zst"])
        #expect(ShipPlan.missing(for: manifest, partsPresent: ["part-000001-a.zst", "part-000002-b.zst"], segmentsPresent: all.subtracting([seg("000000010000000000000003")]))
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
        try queue.remove(entries[0])    // twice: harmless
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
        let alone = WalvaultContext(config: WalvaultConfig(path: "/t", cluster: ClusterSettings(name: "main"), compression: CompressionSettings(),
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
        let rig = ShippingRig(maxQueueBytes: 1)   // nothing fits
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
        try rig.queue().enqueue(key: "main/wal/0000000100000000/000000010000000000000009-20261124T000000000000Z-\(String(repeating: "a", count: 64)).zst", size: 5)
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
        let unreachable = S3Store(name: "cloud", endpoint: "http://127.0.0.1:9", region: "us-east-1", bucket: "nowhere", prefix: "", pathStyle: true,
                                  accessKeyID: "AKIA", secret: SecretBytes(count: 4), policy: RetryingStore.Policy(attempts: 1))
        let local = WalvaultContext.wrap(rig.context.rawStores[0], keyRing: nil)
        let layout = ArchiveLayout(cluster: "main")
        let inventory = try Inventory.read(stores: [local, UnencryptedStore(base: unreachable)], layout: layout, skippingUnreadable: true)
        #expect(Array(inventory.unreadableStores.keys) == ["cloud"])
        #expect(inventory.unreadableStores["cloud"]?.contains("s3://nowhere") == true)
        #expect(inventory.segments.count == 1)
        #expect(throws: StoreError.self) { _ = try Inventory.read(stores: [UnencryptedStore(base: unreachable)], layout: layout, skippingUnreadable: true) }
        // Without the flag (what nothing but tests use now), one bad store stops the read.
        #expect(throws: StoreError.self) { _ = try Inventory.read(stores: [local, UnencryptedStore(base: unreachable)], layout: layout) }
    }
}

@Suite(.serialized) struct ShipToAnUnreachableStoreTests {
    func context(dir: TempDir, cloud: S3Store, parallel: Int = 2) throws -> WalvaultContext {
        let s3 = S3StoreSettings(endpoint: "http://127.0.0.1:9", region: "us-east-1", bucket: "nowhere",
                                 accessKeyID: .environment("UNUSED"), secretAccessKey: .environment("UNUSED"), pathStyle: true)
        let settings = [StoreSettings(name: "local", kind: .local(path: dir.sub("sync"))), StoreSettings(name: "s3", kind: .s3(s3), mode: .async)]
        let config = WalvaultConfig(path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", spool: dir.sub("spool")),
                                    compression: CompressionSettings(algorithm: .zstd), stores: settings, shipping: ShippingSettings(parallel: parallel))
        return WalvaultContext(config: config, stores: [try WalvaultContext.makeStore(settings[0]), WalvaultContext.layered(cloud)])
    }

    func push(_ context: WalvaultContext, _ dir: TempDir, _ range: ClosedRange<Int>) throws {
        for i in range {
            let name = "0000000100000000000000" + String(0x100 + i, radix: 16).uppercased().suffix(2)
            _ = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(name)", makeSegment(name: seg(name), seed: UInt64(i))))
        }
    }

    /// A store that cannot even be asked for its binding is one line, and everything stays queued.
    @Test func anUnreachableStoreIsOneLineAndEverythingStaysQueued() throws {
        let dir = TempDir()
        let unreachable = S3Store(name: "s3", endpoint: "http://127.0.0.1:9", region: "us-east-1", bucket: "nowhere", prefix: "", pathStyle: true,
                                  accessKeyID: "AKIA", secret: SecretBytes(count: 4), policy: RetryingStore.Policy(attempts: 1))
        let context = try context(dir: dir, cloud: unreachable)
        try push(context, dir, 1...9)
        let report = try Ship(context: context).run()
        #expect(report.shipped == 0)
        #expect(report.failures.count == 1)
        #expect(report.failures.first?.hasPrefix("store \"s3\":") == true)
        #expect(report.remaining["s3"] == 9)
    }

    /// With the store failing every upload, a round gives up after the first objects that fail
    /// (one per worker), not after trying every queued one.
    @Test func aRoundStopsAtTheFirstObjectsThatFail() throws {
        let dir = TempDir()
        let proxy = try FaultProxy()
        let context = try context(dir: dir, cloud: try proxy.store())
        try push(context, dir, 1...1)
        #expect(try Ship(context: context).run().shipped == 3, "the binding and one segment")
        try push(context, dir, 2...12)
        try proxy.inject("500", "PUT", count: 100_000)
        defer { try? proxy.inject("clear") }
        let report = try Ship(context: context).run()
        #expect(report.shipped == 0)
        #expect((1...2).contains(report.failures.count), "\(report.failures.count) objects were tried")
        #expect(report.remaining["s3"] == 11)
        try proxy.inject("clear")
        let after = try Ship(context: context).run()
        #expect(after.shipped == 11 && after.failures.isEmpty)
    }
}

/// A local sync store and a Telegram async store (the stand-in): shipping commits only once the
/// chat's pinned catalog names what was sent.
@Suite(.serialized) struct ShipToTelegramTests {
    struct Rig {
        let dir = TempDir()
        let standIn: TelegramStandIn
        let spool: String
        let context: WalvaultContext
        let settings: [StoreSettings]

        init(partSize: Int = 4 << 20) throws {
            standIn = try TelegramStandIn()
            // Pacing and 429s have their own tests; here they would only make this one slow.
            try standIn.set(["rate": 1000])
            spool = dir.sub("spool")
            settings = [StoreSettings(name: "local", kind: .local(path: dir.sub("sync"))),
                        StoreSettings(name: "telegram", kind: .telegram(TelegramStoreSettings(apiBase: standIn.apiBase, botToken: .environment("UNUSED"), chatID: standIn.chatID)), mode: .async)]
            let config = WalvaultConfig(path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", spool: spool),
                                        compression: CompressionSettings(algorithm: .zstd), stores: settings, shipping: ShippingSettings(parallel: 2))
            context = WalvaultContext(config: config, stores: [try WalvaultContext.makeStore(settings[0]), Self.telegram(standIn, dir, machine: "this", partSize: partSize)])
        }

        func telegram(machine: String, partSize: Int = 4 << 20) -> Store { Self.telegram(standIn, dir, machine: machine, partSize: partSize) }

        static func telegram(_ standIn: TelegramStandIn, _ dir: TempDir, machine: String, partSize: Int) -> Store {
            WalvaultContext.layered(telegramStore(standIn, workDirectory: dir.sub("work-\(machine)"), partSize: partSize, pacer: TelegramPacer(rate: 1000)))
        }

        func push(_ range: ClosedRange<Int>) throws {
            for i in range {
                let name = "0000000100000000000000" + String(0x100 + i, radix: 16).uppercased().suffix(2)
                _ = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(name)", makeSegment(name: seg(name), seed: UInt64(i))))
            }
        }

        func walKeys(_ store: Store) throws -> [String] {
            try store.list(directory: "main/wal/0000000100000000", namePrefix: "").map(\.key)
        }
    }

    @Test func segmentsShareDocumentsAndTheQueueEmptiesOnlyOnceTheCatalogIsPinned() throws {
        let rig = try Rig()
        try rig.push(1...12)
        let report = try Ship(context: rig.context).run()
        #expect(try rig.context.rawStores[1] === rig.context.rawStores[1] && ShippingQueue.open(spool: rig.spool, store: "telegram").entries().isEmpty)
        #expect(report.failures.isEmpty)
        // 12 segments and the binding: a few documents of 4 MiB, not one per object.
        let documents = rig.standIn.stats()["documents", default: 0]
        #expect(documents > 0 && documents <= 6, "\(documents) documents")
        // Every object shipped is in the history's rows with the document's file_id.
        #expect(report.stored.count == 12)
        #expect(report.stored.allSatisfy { $0.handle?.hasPrefix("F") == true })
        let newMachine = rig.telegram(machine: "new")
        #expect(try rig.walKeys(newMachine) == rig.walKeys(rig.context.stores[0]))
        #expect(try newMachine.head(key: "main/archive.info") != nil)
    }

    /// A shipper killed after the documents went out but before the catalog did: the chat shows
    /// none of them and the queue still holds every entry, so the next shipper sends them again.
    @Test func aShipperThatStopsBeforeTheFlushReportsNothingDoneAndLosesNothing() throws {
        let rig = try Rig(partSize: 64 << 10)
        try rig.push(1...6)
        let ship = Ship(context: rig.context)
        let queue = try ShippingQueue.open(spool: rig.spool, store: "telegram")
        var report = Ship.Report()
        let unflushed = Ship.Unflushed()
        try ship.ensureBinding(target: rig.context.rawStores[1], report: &report)
        try ship.round(queue: queue, target: rig.context.rawStores[1], unflushed: unflushed, report: &report, progress: { _ in })
        #expect(report.shipped == 8, "the binding's two objects and six segments")
        #expect(rig.standIn.stats()["documents", default: 0] > 1, "full documents went out")
        // "Killed" here: no flush.
        #expect(try queue.entries().count == 6)
        #expect(try rig.walKeys(rig.telegram(machine: "new")).isEmpty)
        let again = try Ship(context: WalvaultContext(config: rig.context.config, stores: [rig.context.rawStores[0], rig.telegram(machine: "restarted", partSize: 64 << 10)])).run()
        #expect(again.failures.isEmpty)
        #expect(try queue.entries().isEmpty)
        #expect(try rig.walKeys(rig.telegram(machine: "later")) == rig.walKeys(rig.context.stores[0]))
    }

    @Test func theContextWarnsAboutPlaintextAndRefusesABadTokenAndAWriteWithoutASyncStore() throws {
        let dir = TempDir()
        let config = dir.write("walvault.toml", Array("""
            [cluster]
            name = "main"
            spool = "\(dir.sub("spool"))"
            [[stores]]
            name = "telegram"
            type = "telegram"
            bot_token_env = "WALVAULT_TEST_TOKEN"
            chat_id = "-100"
            """.utf8))
        setenv("WALVAULT_TEST_TOKEN", "123:ABC-def_ghi", 1)
        let context = try WalvaultContext.load(configPath: config)
        #expect(context.warnings.contains { $0.contains("unencrypted") && $0.contains("[encryption]") })
        do {
            _ = try context.requireSyncStores(for: "archive-push")
            Issue.record("expected a refusal")
        } catch {
            #expect("\(error)".contains("every store in \(config) is async"))
        }
        setenv("WALVAULT_TEST_TOKEN", "123:ABC/TOKENMARKER ../x", 1)
        do {
            _ = try WalvaultContext.load(configPath: config)
            Issue.record("expected a refusal")
        } catch let error as ConfigError {
            #expect(error.key == "stores #1.bot_token")
            #expect(!error.description.contains("TOKENMARKER"))
        }
    }

    @Test(arguments: [
        (0, 100.0, nil, false, false),     // nothing to flush
        (3, 0.5, 0.5, false, false),       // objects are still arriving: wait to fill the document
        (3, 0.5, nil, false, true),        // nothing queued at all
        (3, 0.5, 3.0, false, true),        // nothing new for 2 s
        (3, 10.0, 0.1, false, true),       // however busy, the off-site copy is at most 10 s behind
        (3, 0.1, 0.1, true, true),         // something failed: keep what went out
    ] as [(Int, Double, Double?, Bool, Bool)])
    func theFlushWaitsForCompanyButNotLong(unflushed: Int, oldest: Double, newest: Double?, failed: Bool, due: Bool) {
        #expect(ShipPlan.flushDue(unflushed: unflushed, oldestUnflushedAge: oldest, newestQueuedAge: newest, failed: failed) == due)
    }
}

@Suite struct ShippedHistoryTests {
    /// The history's file_id of an object in Telegram is its document's file_id, not a path.
    @Test func shippedObjectsAreRowsWithTheServicesHandle() {
        let rig = ShippingRig()
        let settings = HistorySettings(conninfo: "", projectID: "p", journal: "/j", retentionDays: 30)
        let sha = String(repeating: "a", count: 64)
        let rows = HistoryEvents.shippedRows(settings, context: rig.context, shipped: [
            Ship.Shipped(store: "telegram", key: "main/wal/0000000100000000/000000010000000000000003-20261124T110447123456Z-\(sha).zst", size: 1234, handle: "BQACAgIAAxkDAAI"),
            Ship.Shipped(store: "offsite", key: "main/backup/L/part-000001-\(sha).zst", size: 99, handle: nil),
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
