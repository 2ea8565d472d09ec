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

/// Expire on a Telegram store: the deletions are one new catalog, then the documents go where
/// Telegram still allows it; the rest is reported as left in the chat, never as deleted.
@Suite(.serialized) struct ExpireOnTelegramTests {
    @Test func documentsOlderThan48HoursAreLeftInTheChatAndSaidSo() throws {
        let standIn = try TelegramStandIn()
        try standIn.set(["rate": 1000])
        let dir = TempDir()
        let settings = [
            StoreSettings(name: "local", kind: .local(path: dir.sub("local"))),
            StoreSettings(
                name: "telegram",
                kind: .telegram(TelegramStoreSettings(apiBase: standIn.apiBase, botToken: .environment("UNUSED"), chatID: standIn.chatID)),
                mode: .async)
        ]
        let config = WalvaultConfig(
            path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", spool: dir.sub("spool")),
            compression: CompressionSettings(algorithm: .zstd),
            stores: settings, retention: RetentionSettings(days: 7))
        func telegram(_ machine: String) -> Store {
            WalvaultContext.layered(
                telegramStore(standIn, workDirectory: dir.sub("work-\(machine)"), partSize: 64 << 10, pacer: TelegramPacer(rate: 1000)))
        }
        let context = WalvaultContext(config: config, stores: [try WalvaultContext.makeStore(settings[0]), telegram("ship")])
        for i in 1...6 {
            let name = "0000000100000000000000" + String(0x100 + i, radix: 16).uppercased().suffix(2)
            _ = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(name)", makeSegment(name: seg(name), seed: UInt64(i))))
        }
        _ = try Ship(context: context).run()
        let now = WallClock.nowMicros()
        let layout = ArchiveLayout(cluster: "main")
        for (daysAgo, start) in [(20, 2), (3, 5)] as [(Int64, UInt64)] {
            let manifest = emptyManifest(stop: now - daysAgo * 86_400_000_000, startSegment: start)
            for store in context.stores { #expect(try store.createSmall(key: layout.manifestKey(manifest.label), contents: try manifest.encoded())) }
        }
        _ = try context.stores[1].flush()
        // Two days later: Telegram refuses to delete what walvault sent.
        try standIn.set(["rate": 1000, "clock_offset": 49 * 3600])
        let later = WalvaultContext(config: config, stores: [context.rawStores[0], telegram("expire")])
        let report = try Expire(context: later).run(asOf: now)
        let left = try #require(report.leftBehind["telegram"])
        #expect(!left.isEmpty)
        #expect(left.values.allSatisfy { $0.contains("48 hours") })
        #expect(report.deletedObjects?["telegram"] == 0, "nothing is counted as deleted that is still in the chat")
        #expect(report.text.contains("left in the chat, NOT encrypted: readable by anyone in the chat"))
        #expect(standIn.stats()["deleted", default: 0] == 0)
        // The catalog forgot them: a new machine does not see them.
        let fresh = telegram("fresh")
        for key in left.keys { #expect(try fresh.head(key: key) == nil) }
        #expect(try fresh.head(key: layout.infoKey) != nil)
    }
}
