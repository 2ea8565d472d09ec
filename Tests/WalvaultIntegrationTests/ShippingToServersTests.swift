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

// Shipping to stores behind servers: an unreachable S3 endpoint, the fault proxy over moto, and the Telegram stand-in.
@Suite(.serialized) struct ShipToAnUnreachableStoreTests {
    func context(dir: TempDir, cloud: S3Store, parallel: Int = 2) throws -> WalvaultContext {
        let s3 = S3StoreSettings(
            endpoint: "http://127.0.0.1:9", region: "us-east-1", bucket: "nowhere",
            accessKeyID: .environment("UNUSED"), secretAccessKey: .environment("UNUSED"), pathStyle: true)
        let settings = [StoreSettings(name: "local", kind: .local(path: dir.sub("sync"))), StoreSettings(name: "s3", kind: .s3(s3), mode: .async)]
        let config = WalvaultConfig(
            path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", spool: dir.sub("spool")),
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
        let unreachable = S3Store(
            name: "s3", endpoint: "http://127.0.0.1:9", region: "us-east-1", bucket: "nowhere", prefix: "", pathStyle: true,
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
        let systemIdentifier: UInt64
        let cluster: String

        /// `sharing`: another cluster's rig, whose chat this one ships to as well.
        init(
            partSize: Int = 4 << 20, sharing other: Rig? = nil, cluster: String = "main", systemIdentifier: UInt64 = 7_000_000_000_000_000_001
        ) throws {
            self.systemIdentifier = systemIdentifier
            self.cluster = cluster
            standIn = try other?.standIn ?? TelegramStandIn()
            // Pacing and 429s have their own tests; here they would only make this one slow.
            try standIn.set(["rate": 1000])
            spool = dir.sub("spool")
            settings = [
                StoreSettings(name: "local", kind: .local(path: dir.sub("sync"))),
                StoreSettings(
                    name: "telegram",
                    kind: .telegram(TelegramStoreSettings(apiBase: standIn.apiBase, botToken: .environment("UNUSED"), chatID: standIn.chatID)),
                    mode: .async)
            ]
            let config = WalvaultConfig(
                path: "/test/walvault.toml", cluster: ClusterSettings(name: cluster, spool: spool),
                compression: CompressionSettings(algorithm: .zstd), stores: settings, shipping: ShippingSettings(parallel: 2))
            context = WalvaultContext(
                config: config, stores: [try WalvaultContext.makeStore(settings[0]), Self.telegram(standIn, dir, machine: "this", partSize: partSize)]
            )
        }

        func telegram(machine: String, partSize: Int = 4 << 20) -> Store { Self.telegram(standIn, dir, machine: machine, partSize: partSize) }

        static func telegram(_ standIn: TelegramStandIn, _ dir: TempDir, machine: String, partSize: Int) -> Store {
            WalvaultContext.layered(
                telegramStore(standIn, workDirectory: dir.sub("work-\(machine)"), partSize: partSize, pacer: TelegramPacer(rate: 1000)))
        }

        func push(_ range: ClosedRange<Int>) throws {
            for i in range {
                let name = "0000000100000000000000" + String(0x100 + i, radix: 16).uppercased().suffix(2)
                _ = try ArchivePush(context: context).run(
                    walPath: dir.write("pg_wal/\(name)", makeSegment(name: seg(name), systemIdentifier: systemIdentifier, seed: UInt64(i))))
            }
        }

        func walKeys(_ store: Store) throws -> [String] {
            try store.list(directory: "\(cluster)/wal/0000000100000000", namePrefix: "").map(\.key)
        }
    }

    @Test func segmentsShareDocumentsAndTheQueueEmptiesOnlyOnceTheCatalogIsPinned() throws {
        let rig = try Rig()
        try rig.push(1...12)
        let report = try Ship(context: rig.context).run()
        #expect(
            try rig.context.rawStores[1] === rig.context.rawStores[1] && ShippingQueue.open(spool: rig.spool, store: "telegram").entries().isEmpty)
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

    /// Another cluster shipping to the same chat, under the same name (its archive.info names another
    /// system identifier) or under another (the chat's one catalog would have two clusters'
    /// writers): refused in one line before anything is sent; the chat keeps the first's archive.
    @Test(arguments: [
        (
            "main",
            "main/archive.info there belongs to another cluster (system identifier 7000000000000000001; this one is 7000000000000000999); nothing was shipped"
        ),
        ("other", "telegram:CHAT holds the archive of cluster \"main\"; this is cluster \"other\", and nothing of it was shipped")
    ])
    func anotherClusterIsRefusedInOneLineAndShipsNothing(cluster: String, problem: String) throws {
        let first = try Rig()
        try first.push(1...2)
        #expect(try Ship(context: first.context).run().failures.isEmpty)
        let second = try Rig(sharing: first, cluster: cluster, systemIdentifier: 7_000_000_000_000_000_999)
        try second.push(1...3)
        let documents = first.standIn.stats()["documents", default: 0]
        let report = try Ship(context: second.context).run()
        #expect(report.failures == ["store \"telegram\": " + problem.replacingOccurrences(of: "CHAT", with: first.standIn.chatID)])
        #expect(first.standIn.stats()["documents", default: 0] == documents)
        let newMachine = first.telegram(machine: "new")
        #expect(try first.walKeys(newMachine) == first.walKeys(first.context.stores[0]))
        #expect(try newMachine.listSubdirectories(directory: "") == ["main"])
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
        let again = try Ship(
            context: WalvaultContext(
                config: rig.context.config, stores: [rig.context.rawStores[0], rig.telegram(machine: "restarted", partSize: 64 << 10)])
        ).run()
        #expect(again.failures.isEmpty)
        #expect(try queue.entries().isEmpty)
        #expect(try rig.walKeys(rig.telegram(machine: "later")) == rig.walKeys(rig.context.stores[0]))
    }

    @Test func theContextWarnsAboutPlaintextAndRefusesABadTokenAndAWriteWithoutASyncStore() throws {
        let dir = TempDir()
        let config = dir.write(
            "walvault.toml",
            Array(
                """
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

    @Test(
        arguments: [
            (0, 100.0, nil, false, false),  // nothing to flush
            (3, 0.5, 0.5, false, false),  // objects are still arriving: wait to fill the document
            (3, 0.5, nil, false, true),  // nothing queued at all
            (3, 0.5, 3.0, false, true),  // nothing new for 2 s
            (3, 10.0, 0.1, false, true),  // however busy, the off-site copy is at most 10 s behind
            (3, 0.1, 0.1, true, true)  // something failed: keep what went out
        ] as [(Int, Double, Double?, Bool, Bool)])
    func theFlushWaitsForCompanyButNotLong(unflushed: Int, oldest: Double, newest: Double?, failed: Bool, due: Bool) {
        #expect(ShipPlan.flushDue(unflushed: unflushed, oldestUnflushedAge: oldest, newestQueuedAge: newest, failed: failed) == due)
    }
}
