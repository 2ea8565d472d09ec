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

    /// Forum supergroups as the Bot API documents them: topics opened by an administrator with
    /// can_manage_topics, documents sent into them, and a topic deleted with all its messages
    /// (can_delete_messages), whatever their age, where deleteMessage refuses after 48 hours.
    @Test func aForumTopicTakesDocumentsAndIsDeletedWithThemWhateverTheirAge() throws {
        let standIn = try TelegramStandIn()
        try standIn.set(["forum": true])
        let api = api(standIn)
        let chat = try api.getChat()
        #expect(chat.is_forum == true && chat.type == "supergroup")
        let me = try api.getMe()
        let member = try api.getChatMember(me.id)
        #expect(member.status == "administrator" && member.can_manage_topics == true && member.can_delete_messages == true)
        let topic = try api.createForumTopic(name: "walvault main 20261203T030000Z")
        let inTopic = try api.sendDocument([1, 2, 3], filename: "part", caption: "walvault data", thread: topic)
        let general = try api.sendDocument([4, 5], filename: "catalog", caption: "walvault catalog")
        try standIn.set(["forum": true, "clock_offset": 45 * 86400])
        #expect(storeError { try api.deleteMessage(inTopic.message_id) }?.refusal == .deletionWindowPassed)
        try api.deleteForumTopic(topic)
        #expect(standIn.stats()["topics_deleted"] == 1)
        #expect(storeError { _ = try api.download(fileID: inTopic.document!.file_id, expectedSize: 3) } != nil)
        #expect(try api.download(fileID: general.document!.file_id, expectedSize: 2) == [4, 5])
        // The topic is gone: a send into it, or deleting it again, says so.
        let gone = try #require(storeError { _ = try api.sendDocument([1], filename: "x", caption: "", thread: topic) })
        #expect(gone.problem.contains("message thread not found") && gone.fix.contains("opens a new one"))
        #expect(storeError { try api.deleteForumTopic(topic) }?.problem.contains("TOPIC_ID_INVALID") == true)
    }

    @Test(
        arguments: [
            (["forum": false], "createForumTopic", "not a forum", "turn Topics on in the group's settings, or set forum_topics = false"),
            (["forum": true, "can_manage_topics": false], "createForumTopic", "not enough rights to create a topic", "the right to manage topics"),
            (["forum": true, "bot_status": "member"], "createForumTopic", "not enough rights to create a topic", "an administrator"),
            (["forum": true, "can_delete_messages": false], "deleteForumTopic", "not enough rights to delete a topic", "the right to delete messages")
        ] as [([String: any Sendable], String, String, String)])
    func aMissingRightOrAChatWithoutTopicsIsOneLineThatNamesWhatToGrant(
        settings: [String: any Sendable], method: String, problem: String, fix: String
    ) throws {
        let standIn = try TelegramStandIn()
        try standIn.set(["forum": true])
        let api = api(standIn)
        let topic = try api.createForumTopic(name: "walvault main L")
        try standIn.set(settings)
        let error = try #require(
            storeError {
                if method == "createForumTopic" { _ = try api.createForumTopic(name: "walvault main M") } else { try api.deleteForumTopic(topic) }
            })
        #expect(error.kind == .permanent)
        #expect(error.problem.contains(problem), "\(error.problem)")
        #expect(error.fix.contains(fix), "\(error.fix)")
        #expect("\(error)".split(separator: "\n").count == 1)
        let member = try api.getChatMember(try api.getMe().id)
        if settings["bot_status"] as? String == "member" { #expect(member.status == "member" && member.can_manage_topics == nil) }
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
