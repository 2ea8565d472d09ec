import WalvaultHTTP
import WalvaultPipeline
import WalvaultSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The Telegram Bot API methods the Telegram store needs, over libcurl, with the limits the API
/// sets turned into `StoreError`s a caller can act on. The bot token is in every URL
/// (`/bot<token>/<method>`, `/file/bot<token>/<path>`): messages only ever name the redacted
/// form, `…/bot<token>/sendDocument`.
public final class TelegramBotAPI: @unchecked Sendable {
    public let store: String
    let base: String
    private let token: SecretBytes
    let chatID: String
    /// Longest wait walvault accepts from a 429's `retry_after` before giving the failure back.
    let maxRetryAfterSeconds: Int
    private let sleep: (Int) -> Void

    /// Telegram's documented limits for the cloud Bot API.
    public static let uploadLimit = 50_000_000
    public static let downloadLimit = 20 << 20

    /// A self-hosted server started with `--local`: getFile answers a path on this machine.
    let localFiles: Bool

    public init(
        store: String, apiBase: String, token: SecretBytes, chatID: String, localFiles: Bool = false, maxRetryAfterSeconds: Int = 300,
        sleep: @escaping (Int) -> Void = { Glibc.sleep(UInt32($0)) }
    ) {
        self.localFiles = localFiles
        self.store = store
        var base = apiBase
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
        self.token = token
        self.chatID = chatID
        self.maxRetryAfterSeconds = maxRetryAfterSeconds
        self.sleep = sleep
    }

    public struct Document: Decodable, Equatable, Sendable {
        public let file_id: String
        public let file_size: Int?
        public let file_name: String?
    }

    public struct Message: Decodable, Equatable, Sendable {
        public let message_id: Int
        public let date: Int
        public let document: Document?
        public let caption: String?
        public let text: String?
    }

    public struct Chat: Decodable, Sendable {
        public let id: Int64
        public let type: String?
        /// A supergroup with topics turned on: only there can walvault open a topic per backup.
        public let is_forum: Bool?
        public let pinned_message: Message?
    }

    public struct User: Decodable, Sendable {
        public let id: Int64
        public let is_bot: Bool?
    }

    /// The bot's standing in the chat; the rights are present for administrators only.
    public struct ChatMember: Decodable, Sendable {
        public let status: String
        public let can_manage_topics: Bool?
        public let can_delete_messages: Bool?
    }

    struct ForumTopic: Decodable {
        let message_thread_id: Int
        let name: String
    }

    struct File: Decodable {
        let file_id: String
        let file_size: Int?
        let file_path: String?
    }

    struct Envelope<Result: Decodable>: Decodable {
        struct Parameters: Decodable { let retry_after: Int? }
        let ok: Bool
        let result: Result?
        let error_code: Int?
        let description: String?
        let parameters: Parameters?
    }

    // MARK: Methods

    public func getChat() throws -> Chat {
        try call("getChat", [.text(name: "chat_id", value: chatID)], as: Chat.self)
    }

    public func getMe() throws -> User {
        try call("getMe", [], as: User.self)
    }

    public func getChatMember(_ userID: Int64) throws -> ChatMember {
        try call("getChatMember", [.text(name: "chat_id", value: chatID), .text(name: "user_id", value: String(userID))], as: ChatMember.self)
    }

    /// Opens a topic in a forum supergroup; returns its `message_thread_id`.
    public func createForumTopic(name: String) throws -> Int {
        try call("createForumTopic", [.text(name: "chat_id", value: chatID), .text(name: "name", value: name)], as: ForumTopic.self)
            .message_thread_id
    }

    /// Deletes a topic with all its messages: unlike deleteMessage, whatever their age.
    public func deleteForumTopic(_ threadID: Int) throws {
        _ = try call(
            "deleteForumTopic", [.text(name: "chat_id", value: chatID), .text(name: "message_thread_id", value: String(threadID))], as: Bool.self)
    }

    /// `thread`: the forum topic to send into; nil for the chat itself (a forum's General topic).
    public func sendDocument(_ bytes: [UInt8], filename: String, caption: String, thread: Int? = nil) throws -> Message {
        try call(
            "sendDocument",
            destination(thread) + [
                .text(name: "caption", value: caption), .text(name: "disable_content_type_detection", value: "true"),
                .file(name: "document", filename: filename, bytes: bytes)
            ], as: Message.self)
    }

    /// A document read from a file as it is sent (`readAt` is a `pread`), never whole in memory.
    public func sendDocument(
        length: Int, readAt: @escaping (Int, UnsafeMutableRawBufferPointer) throws -> Int, filename: String, caption: String, thread: Int? = nil
    ) throws -> Message {
        try call(
            "sendDocument",
            destination(thread) + [
                .text(name: "caption", value: caption), .text(name: "disable_content_type_detection", value: "true"),
                .stream(name: "document", filename: filename, length: length, readAt: readAt)
            ], as: Message.self)
    }

    private func destination(_ thread: Int?) -> [HTTPRequest.FormField] {
        [.text(name: "chat_id", value: chatID)] + (thread.map { [.text(name: "message_thread_id", value: String($0))] } ?? [])
    }

    /// A text message (alerts), to this store's chat or another.
    public func sendMessage(_ text: String, to chat: String? = nil) throws {
        _ = try call(
            "sendMessage",
            [
                .text(name: "chat_id", value: chat ?? chatID), .text(name: "text", value: text),
                .text(name: "disable_web_page_preview", value: "true")
            ], as: Message.self)
    }

    public func deleteMessage(_ messageID: Int) throws {
        _ = try call("deleteMessage", [.text(name: "chat_id", value: chatID), .text(name: "message_id", value: String(messageID))], as: Bool.self)
    }

    public func pinChatMessage(_ messageID: Int) throws {
        _ = try call(
            "pinChatMessage",
            [
                .text(name: "chat_id", value: chatID), .text(name: "message_id", value: String(messageID)),
                .text(name: "disable_notification", value: "true")
            ], as: Bool.self)
    }

    public func unpinChatMessage(_ messageID: Int) throws {
        _ = try call(
            "unpinChatMessage", [.text(name: "chat_id", value: chatID), .text(name: "message_id", value: String(messageID))], as: Bool.self)
    }

    /// A document's bytes: `getFile`, then the download (refused by Telegram past 20 MiB).
    public func download(fileID: String, expectedSize: Int? = nil) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try download(fileID: fileID, expectedSize: expectedSize) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// Streams a document into `sink`; with `local_files`, from the path the server answers.
    public func download(fileID: String, expectedSize: Int?, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let file = try call("getFile", [.text(name: "file_id", value: fileID)], as: File.self)
        guard let path = file.file_path else {
            throw StoreError(
                store: store, kind: .permanent, problem: "getFile gave no path for a document",
                fix: "check that api_base is a Telegram Bot API server")
        }
        var received = 0
        if localFiles {
            guard path.hasPrefix("/") else {
                throw StoreError(
                    store: store, kind: .permanent, problem: "local_files is set but the server answered a download path, not a local file",
                    fix: "set local_files = false, or start the Bot API server with --local on this machine")
            }
            do {
                let fd = try FileDescriptor.openRegularFile(path)
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                while true {
                    let n = try buffer.withUnsafeMutableBytes { try fd.read(into: $0) }
                    if n == 0 { break }
                    try buffer.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    received += n
                }
            } catch let error as SystemError {
                throw StoreError(
                    store: store, kind: .permanent, problem: "cannot read the local Bot API file \(path): \(error.reason)",
                    fix: "run walvault as a user that can read the Bot API server's --dir, or set local_files = false")
            }
        } else {
            let request = HTTPRequest(method: "GET", url: url(file: path), displayURL: "\(base)/file/bot<token>/…")
            var errorBody: [UInt8] = []
            let response: HTTPResponse
            do {
                response = try withoutActuallyEscaping(sink) { sink in
                    try HTTPClient().perform(request) { bytes in
                        received += bytes.count
                        if let expected = file.file_size ?? expectedSize, received > expected {
                            throw StoreError(
                                store: self.store, kind: .permanent, problem: "a document came back longer than its \(expected) bytes",
                                fix: "check api_base")
                        }
                        // Kept for the message if the answer turns out to be an error page.
                        if errorBody.count < 4096 { errorBody.append(contentsOf: bytes.prefix(4096)) }
                        try sink(bytes)
                    }
                }
            } catch let error as HTTPError {
                throw StoreError(store: store, kind: error.kind == .transient ? .transient : .permanent, problem: error.problem, fix: error.fix)
            }
            guard response.status == 200 else {
                throw failure("downloading a document", status: response.status, body: errorBody)
            }
        }
        if let size = file.file_size ?? expectedSize, size != received {
            throw StoreError(
                store: store, kind: .transient, problem: "a document came back with \(received) of its \(size) bytes",
                fix: "walvault retried it; try again later")
        }
    }

    // MARK: Plumbing

    func url(method: String) -> String { "\(base)/bot\(tokenText())/\(method)" }
    func url(file path: String) -> String { "\(base)/file/bot\(tokenText())/\(path)" }
    private func tokenText() -> String { token.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }

    /// One method call; a 429 is waited out exactly as long as Telegram says, a bounded number of times.
    func call<Result: Decodable>(_ method: String, _ fields: [HTTPRequest.FormField], as type: Result.Type) throws -> Result {
        var waits = 0
        while true {
            let request = HTTPRequest(method: "POST", url: url(method: method), displayURL: "\(base)/bot<token>/\(method)", body: .form(fields))
            let (response, body) = try perform(request, limit: 1 << 20)
            let envelope = try? JSONDecoder().decode(Envelope<Result>.self, from: Data(body))
            if let envelope, envelope.ok, let result = envelope.result { return result }
            if let retryAfter = envelope?.parameters?.retry_after, response.status == 429 || envelope?.error_code == 429 {
                guard retryAfter <= maxRetryAfterSeconds, waits < 10 else {
                    throw StoreError(
                        store: store, kind: .transient, problem: "\(method): Telegram asks to wait \(retryAfter) s (rate limit)",
                        fix: "fewer, larger documents help: walvault bundles small objects; shipping goes on later")
                }
                waits += 1
                sleep(retryAfter)
                continue
            }
            throw failure(method, status: response.status, body: body, envelope: envelope.map { ($0.error_code, $0.description) })
        }
    }

    private func perform(_ request: HTTPRequest, limit: Int) throws -> (HTTPResponse, [UInt8]) {
        do {
            return try HTTPClient().perform(request, limit: limit)
        } catch let error as HTTPError {
            throw StoreError(store: store, kind: error.kind == .transient ? .transient : .permanent, problem: error.problem, fix: error.fix)
        }
    }

    func failure(_ action: String, status: Int, body: [UInt8], envelope: (Int?, String?)? = nil) -> StoreError {
        let code = envelope?.0 ?? status
        let description = envelope?.1 ?? (body.first == UInt8(ascii: "<") ? "an HTML error page" : "no description")
        let kind = TelegramFailure.kind(code: code, description: description)
        var error = StoreError(
            store: store, kind: kind, problem: "\(action) failed: \(code) \(description)",
            fix: TelegramFailure.fix(code: code, description: description, chatID: chatID))
        error.refusal = TelegramFailure.refusal(code: code, description: description)
        return error
    }
}

/// What a Bot API error means for walvault. Pure.
public enum TelegramFailure {
    public static func kind(code: Int, description: String) -> StoreError.Kind {
        switch code {
        case 401, 403: return .auth
        case 429, 500...599: return .transient
        case 400 where description.lowercased().hasSuffix("not found") && description.lowercased().contains("message"): return .notFound
        default: return .permanent
        }
    }

    /// The refusals the store acts on. Telegram says why only in words, so the words are read here,
    /// once, where the other codes are mapped.
    public static func refusal(code: Int, description: String) -> StoreError.Refusal? {
        if code == 413 { return .tooLarge }
        if code == 400 && description.lowercased().contains("can't be deleted") { return .deletionWindowPassed }
        if code == 400 && (description.lowercased().contains("message thread not found") || description.lowercased().contains("topic_id_invalid")) {
            return .groupGone
        }
        return nil
    }

    static func fix(code: Int, description: String, chatID: String) -> String {
        let text = description.lowercased()
        switch code {
        case 401: return "the bot token is wrong or revoked: check bot_token_env/bot_token_file (ask @BotFather for the token)"
        case 403: return "the bot cannot post in chat \(chatID): add it to the chat (as an administrator, to pin)"
        case 413: return "the document is larger than the Bot API accepts: lower part_size_mb"
        case 429: return "Telegram is rate-limiting this chat; shipping goes on later"
        case 400 where text.contains("chat not found"): return "check chat_id (\(chatID)) and that the bot is a member of that chat"
        case 400 where text.contains("file is too big"):
            return "documents over 20 MiB cannot be downloaded from the cloud Bot API: keep part_size_mb at 19 or less, or use a local Bot API server"
        case 400 where text.contains("can't be deleted"): return "Telegram lets a bot delete its messages for 48 hours only"
        case 400 where text.contains("not a forum"):
            return "chat \(chatID) is not a forum: turn Topics on in the group's settings, or set forum_topics = false"
        case 400 where text.contains("rights to create a topic"):
            return "make the bot an administrator of chat \(chatID) with the right to manage topics, or set forum_topics = false"
        case 400 where text.contains("rights to delete a topic"):
            return "give the bot the right to delete messages in chat \(chatID), or set forum_topics = false"
        case 400 where text.contains("message thread not found") || text.contains("topic_id_invalid"):
            return "the topic was deleted in Telegram; walvault opens a new one for the next backup"
        default: return code >= 500 ? "Telegram is unavailable (walvault retried it); try again later" : "check api_base, bot token and chat_id"
        }
    }
}
