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
        /// The forum topic it was sent into (its `message_thread_id`); nil for the chat itself.
        public var topic: Int?

        enum CodingKeys: String, CodingKey {
            case message = "m", fileID = "f", size = "s", sha256 = "h", date = "d", topic = "t"
        }

        public init(message: Int, fileID: String, size: Int, sha256: String, date: Int, topic: Int? = nil) {
            self.message = message
            self.fileID = fileID
            self.size = size
            self.sha256 = sha256
            self.date = date
            self.topic = topic
        }
    }

    /// A forum topic walvault opened for one group of objects (`ObjectGroup`: a base backup and
    /// the WAL after it). Deleting it deletes its documents whatever their age.
    public struct Topic: Codable, Equatable, Sendable {
        public var thread: Int
        /// The group's name, which is also the topic's title.
        public var name: String
        /// Nothing in it is kept any more: pinned like this before the topic is deleted, so no
        /// writer sends into it again, and one that already did learns its documents are lost.
        public var closing: Bool
        /// What walvault sent into it, reported when it is deleted.
        public var bytes: Int

        enum CodingKeys: String, CodingKey { case thread = "i", name = "n", closing = "c", bytes = "b" }

        public init(thread: Int, name: String, closing: Bool = false, bytes: Int = 0) {
            self.thread = thread
            self.name = name
            self.closing = closing
            self.bytes = bytes
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

    /// A catalog generation no longer pinned, kept in the chat until no reader can need it, then
    /// deleted while Telegram still lets a bot: without this every generation (one per flush)
    /// stays in the chat for good.
    public struct Retired: Codable, Equatable, Sendable {
        public var generation: Int
        public var message: Int

        enum CodingKeys: String, CodingKey { case generation = "g", message = "m" }

        public init(generation: Int, message: Int) {
            self.generation = generation
            self.message = message
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
        /// 1: everything in this document; 2: the documents, objects and deletions are in `slices`.
        public var format = 1
        public var generation: Int
        /// The catalog this one continues; nil only for the first.
        public var previous: Pointer?
        /// The whole state, not changes: reading stops here.
        public var snapshot: Bool
        public var documents: [Document]
        public var put: [Entry]
        public var delete: [String]
        /// Where the rest of this generation is, when it did not fit one document (format 2).
        public var slices: [Pointer]?
        /// Every topic the catalog knows, whole in each generation (a few dozen at most); nil in
        /// catalogs written before topics, and where there are none.
        public var topics: [Topic]?
        /// Earlier generations' messages not deleted yet, whole in each generation.
        public var retired: [Retired]?

        public init(generation: Int, previous: Pointer?, snapshot: Bool, documents: [Document], put: [Entry], delete: [String]) {
            self.generation = generation
            self.previous = previous
            self.snapshot = snapshot
            self.documents = documents
            self.put = put
            self.delete = delete
        }

        public func encoded() throws -> [UInt8] { try CatalogJSON.encode(self) }
        public static func decode(_ bytes: [UInt8]) throws -> Delta { try CatalogJSON.decode(bytes) }

        /// This generation cut into slices whose encodings take at most `limit` bytes each: the
        /// cloud Bot API downloads 20 MiB at most, and a busy server's snapshot (about 170 bytes an
        /// object, 100,000 WAL segments in 30 days) outgrows that. The items keep `apply`'s order
        /// (documents, deletions, objects), so each slice can be applied as it is read. They are
        /// measured `batch` at a time: the encoder's memory is one batch's, not the whole catalog's.
        public func slices(limit: Int, batch: Int = 2_000) throws -> [Slice] {
            let all = Slice(generation: generation, index: 0, documents: documents, put: put, delete: delete)
            let empty = try Slice(generation: generation, index: 0, documents: [], put: [], delete: []).encoded().count
            // Room for the commas that joining pieces adds, and an index of more digits.
            let room = limit - 16
            var slices: [Slice] = []
            var size = 0
            var start = 0
            while start < all.itemCount {
                var pieces: [(slice: Slice, size: Int)] = []
                try Self.fit(all.items(start..<min(all.itemCount, start + batch)), limit: room, into: &pieces)
                for piece in pieces {
                    if let last = slices.indices.last, size + piece.size - empty <= room {
                        slices[last].append(piece.slice)
                        size += piece.size - empty
                    } else {
                        var next = piece.slice
                        next.index = slices.count
                        slices.append(next)
                        size = piece.size
                    }
                }
                start += batch
            }
            return slices.isEmpty ? [all] : slices
        }

        /// Appends `slice` with its encoded size, halved until each half fits `limit`.
        private static func fit(_ slice: Slice, limit: Int, into pieces: inout [(slice: Slice, size: Int)]) throws {
            let size = try slice.encoded().count
            if size <= limit {
                pieces.append((slice, size))
                return
            }
            guard slice.itemCount > 1 else {
                throw Inconsistent(description: "one catalog item of generation \(slice.generation) is larger than a catalog document may be")
            }
            let (first, second) = slice.halved()
            try fit(first, limit: limit, into: &pieces)
            try fit(second, limit: limit, into: &pieces)
        }

        /// The document that stands for this generation once its slices are in the chat: the
        /// same generation, predecessor and kind, with everything else in the slices.
        public func head(slices pointers: [Pointer]) -> Delta {
            var head = Delta(generation: generation, previous: previous, snapshot: snapshot, documents: [], put: [], delete: [])
            head.format = 2
            head.slices = pointers
            head.topics = topics
            head.retired = retired
            return head
        }
    }

    /// Part of one generation, in a document of its own (see `Delta.slices(limit:)`).
    public struct Slice: Codable, Equatable, Sendable {
        public var generation: Int
        public var index: Int
        public var documents: [Document]
        public var put: [Entry]
        public var delete: [String]

        var itemCount: Int { documents.count + put.count + delete.count }

        /// Items `range` of this slice, counted in `apply`'s order: documents, deletions, objects.
        func items(_ range: Range<Int>) -> Slice {
            func part<T>(_ list: [T], from base: Int) -> [T] {
                let lower = min(max(range.lowerBound - base, 0), list.count)
                let upper = min(max(range.upperBound - base, 0), list.count)
                return Array(list[lower..<upper])
            }
            return Slice(
                generation: generation, index: index, documents: part(documents, from: 0), put: part(put, from: documents.count + delete.count),
                delete: part(delete, from: documents.count))
        }

        /// The first half of the items and the rest.
        func halved() -> (Slice, Slice) { (items(0..<(itemCount / 2)), items((itemCount / 2)..<itemCount)) }

        /// The items of the slice that follows this one.
        mutating func append(_ next: Slice) {
            documents += next.documents
            delete += next.delete
            put += next.put
        }

        public func encoded() throws -> [UInt8] { try CatalogJSON.encode(self) }
        public static func decode(_ bytes: [UInt8]) throws -> Slice { try CatalogJSON.decode(bytes) }
    }

    public static let snapshotEvery = 16

    public private(set) var generation = 0
    public private(set) var documents: [Int: Document] = [:]
    public private(set) var entries: [String: Entry] = [:]
    /// By thread.
    public private(set) var topics: [Int: Topic] = [:]
    public private(set) var retired: [Retired] = []
    /// How many objects use each document, and which keys each directory holds: kept as objects
    /// come and go, so a removal and a listing cost what they touch, not the whole catalog
    /// (100,000 WAL segments and more).
    private var uses: [Int: Int] = [:]
    private var keysByDirectory: [String: Set<String>] = [:]

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
        guard delta.slices == nil else {
            throw Inconsistent(description: "catalog generation \(delta.generation) was applied without its slices")
        }
        try begin(delta)
        try applyItems(documents: delta.documents, delete: delta.delete, put: delta.put, generation: delta.generation)
        finish(delta)
    }

    /// A generation whose contents are in `count` slices (format 2; the cache on disk): `slice(i)`
    /// gives each in turn, so only one is decoded at a time. A slice of another generation, or out
    /// of its place, is refused.
    public mutating func apply(_ head: Delta, slices count: Int, slice: (Int) throws -> Slice) throws {
        try begin(head)
        for i in 0..<count {
            let next = try slice(i)
            guard next.generation == head.generation, next.index == i else {
                throw Inconsistent(
                    description: "catalog generation \(head.generation)'s slice \(i + 1) is slice \(next.index + 1) of generation \(next.generation)")
            }
            try applyItems(documents: next.documents, delete: next.delete, put: next.put, generation: head.generation)
        }
        finish(head)
    }

    private mutating func begin(_ delta: Delta) throws {
        if delta.snapshot {
            documents = [:]
            entries = [:]
            uses = [:]
            keysByDirectory = [:]
            topics = [:]
            retired = []
        } else if delta.generation != generation + 1 {
            throw Inconsistent(description: "catalog generation \(delta.generation) follows \(generation)")
        }
    }

    private mutating func applyItems(documents: [Document], delete: [String], put: [Entry], generation: Int) throws {
        for document in documents { self.documents[document.message] = document }
        for key in delete { removeEntry(key) }
        for entry in put {
            for extent in entry.extents {
                guard let document = self.documents[extent.message], extent.offset >= 0, extent.length > 0,
                    extent.offset + extent.length <= document.size
                else {
                    throw Inconsistent(description: "catalog generation \(generation) places \(entry.key) outside its documents")
                }
            }
            setEntry(entry)
        }
    }

    private mutating func finish(_ delta: Delta) {
        generation = delta.generation
        if let list = delta.topics { topics = Dictionary(list.map { ($0.thread, $0) }) { _, last in last } }
        if let list = delta.retired { retired = list }
        forgetUnreferencedDocuments()
    }

    /// Documents no object uses any more: what deletion may remove from the chat.
    public var unreferencedDocuments: [Document] {
        documents.values.filter { uses[$0.message] == nil }.sorted { $0.message < $1.message }
    }

    mutating func forgetUnreferencedDocuments() {
        for document in unreferencedDocuments { documents[document.message] = nil }
    }

    private mutating func setEntry(_ entry: Entry) {
        if let old = entries.updateValue(entry, forKey: entry.key) {
            _ = release(old)
        } else {
            keysByDirectory[Self.directory(of: entry.key), default: []].insert(entry.key)
        }
        for message in Set(entry.extents.map(\.message)) { uses[message, default: 0] += 1 }
    }

    /// The documents only this entry used, or nil when there was no such entry.
    @discardableResult
    private mutating func removeEntry(_ key: String) -> [Int]? {
        guard let old = entries.removeValue(forKey: key) else { return nil }
        let directory = Self.directory(of: key)
        keysByDirectory[directory]?.remove(key)
        if keysByDirectory[directory]?.isEmpty == true { keysByDirectory[directory] = nil }
        return release(old)
    }

    /// Drops an entry's uses of its documents; returns those no object uses any more.
    private mutating func release(_ entry: Entry) -> [Int] {
        var unused: [Int] = []
        for message in Set(entry.extents.map(\.message)) {
            let left = (uses[message] ?? 1) - 1
            uses[message] = left > 0 ? left : nil
            if left <= 0 { unused.append(message) }
        }
        return unused
    }

    static func directory(of key: String) -> String {
        guard let slash = key.lastIndex(of: "/") else { return "" }
        return String(key[..<slash])
    }

    /// The delta that takes this state to `next`; a snapshot when `generation + 1` is due one.
    public func delta(to next: TelegramCatalog, previous: Pointer?) -> Delta {
        let generation = self.generation + 1
        var delta: Delta
        if previous == nil || generation % Self.snapshotEvery == 0 {
            delta = Delta(
                generation: generation, previous: previous, snapshot: true,
                documents: next.documents.values.sorted { $0.message < $1.message },
                put: next.entries.values.sorted { $0.key < $1.key }, delete: [])
        } else {
            let documents = next.documents.values.filter { self.documents[$0.message] != $0 }.sorted { $0.message < $1.message }
            let put = next.entries.values.filter { self.entries[$0.key] != $0 }.sorted { $0.key < $1.key }
            let delete = entries.keys.filter { next.entries[$0] == nil }.sorted()
            delta = Delta(generation: generation, previous: previous, snapshot: false, documents: documents, put: put, delete: delete)
        }
        if !next.topics.isEmpty || !topics.isEmpty { delta.topics = next.topics.values.sorted { $0.thread < $1.thread } }
        if !next.retired.isEmpty || !retired.isEmpty { delta.retired = next.retired }
        return delta
    }

    // MARK: Changes the store makes between generations

    /// A document just sent; its bytes count towards its topic's.
    public mutating func add(_ document: Document) {
        if documents.updateValue(document, forKey: document.message) == nil, let thread = document.topic { topics[thread]?.bytes += document.size }
    }

    public mutating func add(_ topic: Topic) { topics[topic.thread] = topic }

    /// Topics that hold no document any object uses, not yet marked closing: retention may delete them.
    public var unusedTopics: [Int] {
        let used = Set(documents.values.compactMap(\.topic))
        return topics.values.filter { !$0.closing && !used.contains($0.thread) }.map(\.thread).sorted()
    }

    public mutating func close(topic thread: Int) { topics[thread]?.closing = true }
    public mutating func forget(topic thread: Int) { topics[thread] = nil }

    /// The topic objects of group `name` go into now: the newest of that name not closing.
    public func openTopic(named name: String) -> Topic? {
        topics.values.filter { $0.name == name && !$0.closing }.max { $0.thread < $1.thread }
    }

    public mutating func retire(_ record: Retired) {
        if !retired.contains(record) { retired.append(record) }
    }

    public mutating func forgetRetired(_ record: Retired) { retired.removeAll { $0 == record } }

    /// The oldest generation a reader may still download once `pinned` is pinned: the pinned one's
    /// chain goes back to its snapshot, and a reader that cannot read it falls back to the one
    /// before, whose chain goes back to the snapshot at or before that one. Snapshots come every
    /// `snapshotEvery` generations (and at 1); one written out of turn only shortens a chain.
    public static func oldestGenerationReadersNeed(pinned generation: Int) -> Int {
        let fallback = max(1, generation - 1)
        return max(1, fallback - fallback % snapshotEvery)
    }

    public mutating func put(_ entry: Entry) { setEntry(entry) }

    /// Removes an object; documents it alone used are forgotten (and returned, for deletion).
    @discardableResult
    public mutating func remove(key: String) -> [Document] {
        guard let unused = removeEntry(key) else { return [] }
        return unused.sorted().compactMap { documents.removeValue(forKey: $0) }
    }

    // MARK: Objects as a listing shows them

    public func objects(directory: String, namePrefix: String) -> [Entry] {
        let prefix = directory.isEmpty ? namePrefix : directory + "/" + namePrefix
        return (keysByDirectory[directory] ?? []).filter { $0.hasPrefix(prefix) }.compactMap { entries[$0] }.sorted { $0.key < $1.key }
    }

    public func subdirectories(of directory: String) -> [String] {
        let prefix = directory.isEmpty ? "" : directory + "/"
        var names: Set<String> = []
        for path in keysByDirectory.keys where path.hasPrefix(prefix) && path != directory {
            let rest = path.dropFirst(prefix.count)
            names.insert(String(rest[..<(rest.firstIndex(of: "/") ?? rest.endIndex)]))
        }
        return names.sorted()
    }
}

/// How catalog documents are written: sorted keys, so the same state is the same bytes.
enum CatalogJSON {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    static func decode<T: Decodable>(_ bytes: [UInt8]) throws -> T { try JSONDecoder().decode(T.self, from: Data(bytes)) }
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
