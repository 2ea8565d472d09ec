import Synchronization
import Testing
import WalvaultPipeline
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultStores

#if canImport(Glibc)
    import Glibc
#endif

// Against the Telegram Bot API stand-in (WalvaultTesting).
/// The Bot API client against the stand-in that enforces Telegram's documented limits.
@Suite(.serialized) struct TelegramBotAPITests {
    final class SleepLog: Sendable {
        let waits = Mutex<[Int]>([])
    }

    func api(_ standIn: TelegramStandIn, token: String? = nil, chatID: String? = nil, sleeps: SleepLog? = nil) -> TelegramBotAPI {
        TelegramBotAPI(
            store: "telegram", apiBase: standIn.apiBase, token: Array((token ?? standIn.token).utf8).withUnsafeBytes { SecretBytes(copying: $0) },
            chatID: chatID ?? standIn.chatID,
            sleep: { seconds in
                sleeps?.waits.withLock { $0.append(seconds) }
                usleep(useconds_t(seconds) * 1_000_000)
            })
    }

    @Test func documentsGoUpAndComeBackAndThePinnedOneIsFoundThroughGetChat() throws {
        let standIn = try TelegramStandIn()
        let api = api(standIn)
        #expect(try api.getChat().pinned_message == nil)
        for size in [0, 1, 1 << 20, (5 << 20) + 3] {
            let bytes = sampleBytes(size, seed: UInt64(size))
            let message = try api.sendDocument(bytes, filename: "obj-\(size)", caption: "walvault object")
            #expect(message.document?.file_size == size)
            #expect(try api.download(fileID: message.document!.file_id, expectedSize: size) == bytes)
        }
        let catalog = try api.sendDocument([1, 2, 3], filename: "catalog", caption: "walvault catalog")
        try api.pinChatMessage(catalog.message_id)
        #expect(try api.getChat().pinned_message?.message_id == catalog.message_id)
        #expect(try api.getChat().pinned_message?.document?.file_id == catalog.document?.file_id)
    }

    @Test func aWrongTokenOrChatIsOneLineAndTheTokenIsNeverPrinted() throws {
        let standIn = try TelegramStandIn(token: "987654:TOKENMARKER-secret-part")
        let wrongToken = storeError { _ = try api(standIn, token: "987654:TOKENMARKER-other").getChat() }
        #expect(wrongToken?.kind == .auth)
        #expect("\(wrongToken!)".contains("401"))
        #expect("\(wrongToken!)".contains("bot_token_env"))
        let wrongChat = storeError { _ = try api(standIn, chatID: "-42").sendDocument([1], filename: "x", caption: "") }
        #expect(wrongChat?.kind == .permanent)
        #expect("\(wrongChat!)".contains("chat not found"))
        #expect("\(wrongChat!)".contains("chat_id (-42)"))
        // And an unreachable server names the redacted URL only.
        let down = storeError {
            _ = try TelegramBotAPI(
                store: "telegram", apiBase: "http://127.0.0.1:9",
                token: Array("987654:TOKENMARKER-secret-part".utf8).withUnsafeBytes { SecretBytes(copying: $0) }, chatID: "-1"
            ).getChat()
        }
        #expect(down?.kind == .transient)
        for error in [wrongToken, wrongChat, down].compactMap({ $0 }) {
            #expect(!"\(error)".contains("TOKENMARKER"))
            #expect(!"\(error)".contains("\n"))
        }
        #expect("\(down!)".contains("/bot<token>/getChat"))
    }

    @Test func aRateLimitIsWaitedOutExactlyAsLongAsTelegramSays() throws {
        let standIn = try TelegramStandIn()
        try standIn.set(["rate": 2, "window": 2])
        let sleeps = SleepLog()
        let api = api(standIn, sleeps: sleeps)
        for i in 0..<3 { _ = try api.sendDocument([UInt8(i)], filename: "d\(i)", caption: "") }
        #expect(standIn.stats()["served_429"] ?? 0 >= 1)
        #expect(standIn.stats()["documents"] == 3)
        let waits = sleeps.waits.withLock { $0 }
        #expect(!waits.isEmpty)
        #expect(waits.allSatisfy { (1...3).contains($0) }, "the waits are Telegram's retry_after: \(waits)")
    }

    @Test func theDocumentedSizeLimitsAreClearErrors() throws {
        let standIn = try TelegramStandIn()
        let api = api(standIn)
        // Over 20 MiB: stored, but getFile refuses it.
        let big = try api.sendDocument([UInt8](repeating: 7, count: (20 << 20) + 1), filename: "big", caption: "")
        let tooBig = storeError { _ = try api.download(fileID: big.document!.file_id) }
        #expect(tooBig?.kind == .permanent)
        #expect("\(tooBig!)".contains("file is too big"))
        #expect("\(tooBig!)".contains("part_size_mb"))
        // Over 50 MB: 413 with an HTML page, not JSON.
        let refused = storeError { _ = try api.sendDocument([UInt8](repeating: 1, count: 50_000_001), filename: "huge", caption: "") }
        #expect(refused?.kind == .permanent)
        #expect("\(refused!)".contains("413"))
        #expect("\(refused!)".contains("lower part_size_mb"))
    }

    @Test func aBotMayDeleteItsMessagesFor48HoursOnly() throws {
        let standIn = try TelegramStandIn()
        let api = api(standIn)
        let fresh = try api.sendDocument([1], filename: "a", caption: "")
        try api.deleteMessage(fresh.message_id)
        let old = try api.sendDocument([2], filename: "b", caption: "")
        try standIn.set(["clock_offset": 49 * 3600])
        let refused = storeError { try api.deleteMessage(old.message_id) }
        #expect("\(refused!)".contains("can't be deleted"))
        #expect("\(refused!)".contains("48 hours"))
        let gone = storeError { try api.deleteMessage(fresh.message_id) }
        #expect(gone?.kind == .notFound)
    }

    @Test func errorKinds() {
        #expect(TelegramFailure.kind(code: 401, description: "Unauthorized") == .auth)
        #expect(TelegramFailure.kind(code: 429, description: "Too Many Requests: retry after 5") == .transient)
        #expect(TelegramFailure.kind(code: 502, description: "Bad Gateway") == .transient)
        #expect(TelegramFailure.kind(code: 400, description: "Bad Request: chat not found") == .permanent)
        #expect(TelegramFailure.kind(code: 400, description: "Bad Request: message to delete not found") == .notFound)
        #expect(TelegramFailure.kind(code: 413, description: "an HTML error page") == .permanent)
    }
}
