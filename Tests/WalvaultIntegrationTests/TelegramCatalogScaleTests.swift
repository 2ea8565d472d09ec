import Foundation
import Testing
import WalvaultPipeline
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultStores

/// A catalog at the sizes a busy server's 30 days reach (about 100,000 WAL segments), read by a
/// new machine that has only the chat: `walvault info` in its own process, so its time and peak
/// RSS are the reader's alone. Reported, not asserted (no timed assertions); the figures go to the
/// README. Without slices, a catalog past about 130,000 objects could not be downloaded at all
/// (the stand-in, like the cloud Bot API, refuses a file over 20 MiB).
@Suite(.serialized) struct TelegramCatalogScaleTests {
    @Test(arguments: [10_000, 100_000, 250_000])
    func aNewMachineReadsACatalogOfManyObjectsFromTheChatAlone(objects: Int) throws {
        let ws = try Workspace()
        let standIn = try TelegramStandIn()
        try standIn.set(["rate": 1000])
        let store = telegramStore(
            standIn, workDirectory: try ws.mkdir("work-writer"), partSize: 1 << 20, pacer: TelegramPacer(rate: 1000))
        // One real document; every object is a piece of it, as WAL segments share bundles.
        let bytes = sampleBytes(1 << 20, seed: 5)  // fills the document: it is sent at once
        let writer = try store.makeWriter(directory: "main/keep")
        try bytes.withUnsafeBytes { try writer.write($0) }
        _ = try writer.commit(name: "real")
        try store.withCatalog { state in
            let real = try #require(state.working.entries["main/keep/real"])
            for i in 0..<objects {
                let key = "main/wal/\(hex(i / 256, width: 16))/\(hex(i, width: 24))-\(String(repeating: "e", count: 40)).zst"
                let entry = TelegramCatalog.Entry(
                    key: key, size: 100, sha256: real.sha256, stored: 1_700_000_000_000_000 + Int64(i),
                    extents: [TelegramCatalog.Extent(message: real.extents[0].message, offset: i % 1000, length: 100)])
                state.working.put(entry)
                state.changes.append(.put(entry))
            }
        }
        _ = try store.flush()
        let catalogDocuments = standIn.stats()["documents", default: 0] - 1  // less the bundle

        let tokenFile = try ws.write("bot-token", standIn.token + "\n")
        chmod(tokenFile, 0o600)
        let config = try ws.write(
            "new-machine.toml",
            """
            [cluster]
            name = "main"
            spool = "\(try ws.mkdir("new-machine-spool"))"

            [[stores]]
            name = "telegram"
            type = "telegram"
            api_base = "\(standIn.apiBase)"
            bot_token_file = "\(tokenFile)"
            chat_id = "\(standIn.chatID)"
            """)
        chmod(config, 0o600)
        let (info, seconds, peakKiB) = try runMeasured(ws.walvault, ["--config", config, "info", "--json"])
        #expect(info.status == 0, "\(info.stderr)")
        // What it read is the whole catalog: a fresh reader sees every object and reads one back.
        let fresh = telegramStore(standIn, workDirectory: try ws.mkdir("work-fresh"), partSize: 1 << 20)
        #expect(try fresh.list(directory: "main/wal/0000000000000000", namePrefix: "").count == 256)
        let last = (objects - 1) / 256
        #expect(try fresh.list(directory: "main/wal/\(hex(last, width: 16))", namePrefix: "").count == (objects - 1) % 256 + 1)
        #expect(try readObject(fresh, "main/keep/real") == bytes)
        print(
            "telegram catalog of \(objects) objects: \(catalogDocuments) catalog document(s); a new machine's walvault info reads it in "
                + "\(String(format: "%.2f", seconds)) s, peak RSS \(peakKiB / 1024) MiB")
    }

    func hex(_ value: Int, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
