import WalvaultSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a Telegram store holds, kept by walvault because a bot cannot read its chat's history:
/// which document (message) holds which bytes of which object. Pure: the store reads and writes
/// it as documents in the chat (`TelegramStore`), this type only says what they mean.
///
/// Each shipping run adds one generation: a document of the changes since the one before
/// (`Delta`), or every 16th time the whole state, so a reader downloads at most 16. The newest
/// is pinned; each names its predecessor (message, file and SHA-256), in the document and in its
/// caption, so a lost or damaged catalog leads to the one before it.
public struct TelegramCatalog: Equatable, Sendable {
    /// One document in the chat: a bundle of small objects, or one piece of a large one.
    public struct Document: Codable, Equatable, Sendable {
        public var message: Int
        public var fileID: String
        public var size: Int
        /// SHA-256 of the document's bytes, checked after every download.
        public var sha256: String
        /// When Telegram received it (seconds since the epoch): a bot may delete it for 48 hours.
        public var date: Int

        enum CodingKeys: String, CodingKey {
            case message = "m", fileID = "f", size = "s", sha256 = "h", date = "d"
        }

        public init(message: Int, fileID: String, size: Int, sha256: String, date: Int) {
            self.message = message
            self.fileID = fileID
            self.size = size
            self.sha256 = sha256
            self.date = date
        }
    }

    /// `length` bytes of an object at `offset` in document `message`.
    public struct Extent: Codable, Equatable, Sendable {
        public var message: Int
        public var offset: Int
        public var length: Int

        enum CodingKeys: String, CodingKey { case message = "m", offset = "o", length = "l" }

        public init(message: Int, offset: Int, length: Int) {
            self.message = message
            self.offset = offset
            self.length = length
        }
    }

    /// One object as commands see it: the concatenation of its extents.
    public struct Entry: Codable, Equatable, Sendable {
        public var key: String
        public var size: Int
        /// SHA-256 of the object's stored bytes (ciphertext when encrypted), checked at the end of a read.
        public var sha256: String
        /// When walvault stored it (µs since the epoch).
        public var stored: Int64
        public var extents: [Extent]

        enum CodingKeys: String, CodingKey { case key = "k", size = "s", sha256 = "h", stored = "t", extents = "e" }

        public init(key: String, size: Int, sha256: String, stored: Int64, extents: [Extent]) {
            self.key = key
            self.size = size
            self.sha256 = sha256
            self.stored = stored
            self.extents = extents
        }
    }

    /// Where a catalog document is: enough to download and verify it without its message.
    public struct Pointer: Codable, Equatable, Sendable {
        public var message: Int
        public var fileID: String
        public var sha256: String

        enum CodingKeys: String, CodingKey { case message = "m", fileID = "f", sha256 = "h" }

        public init(message: Int, fileID: String, sha256: String) {
            self.message = message
            self.fileID = fileID
            self.sha256 = sha256
        }
    }

    /// One generation as it is stored in the chat.
    public struct Delta: Codable, Equatable, Sendable {
        public var format = 1
        public var generation: Int
        /// The catalog this one continues; nil only for the first.
        public var previous: Pointer?
        /// The whole state, not changes: reading stops here.
        public var snapshot: Bool
        public var documents: [Document]
        public var put: [Entry]
        public var delete: [String]

        public init(generation: Int, previous: Pointer?, snapshot: Bool, documents: [Document], put: [Entry], delete: [String]) {
            self.generation = generation
            self.previous = previous
            self.snapshot = snapshot
            self.documents = documents
            self.put = put
            self.delete = delete
        }

        public func encoded() throws -> [UInt8] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return Array(try encoder.encode(self))
        }

        public static func decode(_ bytes: [UInt8]) throws -> Delta {
            try JSONDecoder().decode(Delta.self, from: Data(bytes))
        }
    }

    public static let snapshotEvery = 16

    public private(set) var generation = 0
    public private(set) var documents: [Int: Document] = [:]
    public private(set) var entries: [String: Entry] = [:]

    public init() {}

    /// The state after `deltas`, oldest first, the first a snapshot (or generation 1).
    public static func replay(_ deltas: [Delta]) throws -> TelegramCatalog {
        var catalog = TelegramCatalog()
        for delta in deltas { try catalog.apply(delta) }
        return catalog
    }

    public struct Inconsistent: Problem, CustomStringConvertible {
        public let description: String
        public var problem: String { description }
        public var fix: String { "run walvault ship --catch-up to write a new catalog" }
        public var errorCode: String { "repository.damaged" }
    }

    public mutating func apply(_ delta: Delta) throws {
        if delta.snapshot {
            documents = [:]
            entries = [:]
        } else if delta.generation != generation + 1 {
            throw Inconsistent(description: "catalog generation \(delta.generation) follows \(generation)")
        }
        for document in delta.documents { documents[document.message] = document }
        for key in delta.delete { entries[key] = nil }
        for entry in delta.put {
            for extent in entry.extents {
                guard let document = documents[extent.message], extent.offset >= 0, extent.length > 0,
                    extent.offset + extent.length <= document.size
                else {
                    throw Inconsistent(description: "catalog generation \(delta.generation) places \(entry.key) outside its documents")
                }
            }
            entries[entry.key] = entry
        }
        generation = delta.generation
        forgetUnreferencedDocuments()
    }

    /// Documents no object uses any more: what deletion may remove from the chat.
    public var unreferencedDocuments: [Document] {
        let used = Set(entries.values.flatMap { $0.extents.map(\.message) })
        return documents.values.filter { !used.contains($0.message) }.sorted { $0.message < $1.message }
    }

    mutating func forgetUnreferencedDocuments() {
        for document in unreferencedDocuments { documents[document.message] = nil }
    }

    /// The delta that takes this state to `next`; a snapshot when `generation + 1` is due one.
    public func delta(to next: TelegramCatalog, previous: Pointer?) -> Delta {
        let generation = self.generation + 1
        if previous == nil || generation % Self.snapshotEvery == 0 {
            return Delta(
                generation: generation, previous: previous, snapshot: true,
                documents: next.documents.values.sorted { $0.message < $1.message },
                put: next.entries.values.sorted { $0.key < $1.key }, delete: [])
        }
        let documents = next.documents.values.filter { self.documents[$0.message] != $0 }.sorted { $0.message < $1.message }
        let put = next.entries.values.filter { self.entries[$0.key] != $0 }.sorted { $0.key < $1.key }
        let delete = entries.keys.filter { next.entries[$0] == nil }.sorted()
        return Delta(generation: generation, previous: previous, snapshot: false, documents: documents, put: put, delete: delete)
    }

    // MARK: Changes the store makes between generations

    public mutating func add(_ document: Document) { documents[document.message] = document }

    public mutating func put(_ entry: Entry) { entries[entry.key] = entry }

    /// Removes an object; documents it alone used are forgotten (and returned, for deletion).
    @discardableResult
    public mutating func remove(key: String) -> [Document] {
        guard entries.removeValue(forKey: key) != nil else { return [] }
        let orphans = unreferencedDocuments
        forgetUnreferencedDocuments()
        return orphans
    }

    // MARK: Objects as a listing shows them

    public func objects(directory: String, namePrefix: String) -> [Entry] {
        let prefix = directory.isEmpty ? namePrefix : directory + "/" + namePrefix
        return entries.values.filter { entry in
            entry.key.hasPrefix(prefix) && !entry.key.dropFirst(directory.isEmpty ? 0 : directory.count + 1).contains("/")
        }.sorted { $0.key < $1.key }
    }

    public func subdirectories(of directory: String) -> [String] {
        let prefix = directory.isEmpty ? "" : directory + "/"
        var names: Set<String> = []
        for key in entries.keys where key.hasPrefix(prefix) {
            let rest = key.dropFirst(prefix.count)
            if let slash = rest.firstIndex(of: "/") { names.insert(String(rest[..<slash])) }
        }
        return names.sorted()
    }
}

/// The caption of a catalog message: readable in the chat, and enough to reach the previous
/// catalog when this one's document cannot be read.
/// `walvault catalog 12 sha256=<hex> previous=<message>:<file_id>:<sha256>`
public enum TelegramCatalogCaption {
    public static let marker = "walvault catalog"

    public static func make(generation: Int, sha256: String, previous: TelegramCatalog.Pointer?) -> String {
        var text = "\(marker) \(generation) sha256=\(sha256)"
        if let previous { text += " previous=\(previous.message):\(previous.fileID):\(previous.sha256)" }
        return text
    }

    public struct Parsed: Equatable, Sendable {
        public var generation: Int
        public var sha256: String
        public var previous: TelegramCatalog.Pointer?
    }

    /// nil for any message that is not a walvault catalog.
    public static func parse(_ caption: String) -> Parsed? {
        guard caption.hasPrefix(marker + " ") else { return nil }
        let words = caption.dropFirst(marker.count + 1).split(separator: " ")
        guard let first = words.first, let generation = Int(first) else { return nil }
        var sha: String?
        var previous: TelegramCatalog.Pointer?
        for word in words.dropFirst() {
            if word.hasPrefix("sha256=") {
                sha = String(word.dropFirst(7))
            } else if word.hasPrefix("previous=") {
                let parts = word.dropFirst(9).split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 3, let message = Int(parts[0]), !parts[1].isEmpty, parts[2].count == 64 else { return nil }
                previous = TelegramCatalog.Pointer(message: message, fileID: String(parts[1]), sha256: String(parts[2]))
            }
        }
        guard let sha, sha.count == 64 else { return nil }
        return Parsed(generation: generation, sha256: sha, previous: previous)
    }
}

/// Which documents retention may try to delete: Telegram lets a bot delete its own messages for
/// 48 hours; asking about older ones only spends requests. An hour's margin for clocks.
public enum TelegramDeletionWindow {
    public static let seconds = 48 * 3600
    public static let margin = 3600

    public static func mayDelete(sentAt date: Int, now: Int) -> Bool {
        now - date < seconds - margin
    }
}
