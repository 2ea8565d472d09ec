import Dispatch
import Synchronization
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

/// A chat as a store, through a bot. Telegram cannot list a chat for a bot, caps downloads at
/// 20 MiB, takes about 20 messages a minute and lets a bot delete only for 48 hours, so:
/// - objects are cut into and packed together in documents of at most `partSize` bytes
///   (`TelegramCatalog.Extent`s): a large object spans several, small ones share one;
/// - walvault keeps the catalog itself, as documents in the chat, the newest pinned, each naming
///   the one before (`TelegramCatalog`); listings and `head` answer from it;
/// - a commit is durable only when `flush` has sent the open document and a catalog naming it,
///   and pinned that (`.deferredCommit`): the shipper keeps its queue entries until then;
/// - sends are paced below the chat's limit, and a 429 is waited out as Telegram says;
/// - deletion drops the object from the catalog first, then deletes documents nothing uses any
///   more where Telegram still allows it, and reports the rest as left in the chat.
///
/// Local state lives in `workDirectory` (under the spool): the document being filled and
/// writers' bytes (unnamed temporary files), downloaded documents, and the last catalog read,
/// all rebuilt from the chat when missing, so a new machine needs only the config.
public final class TelegramStore: Store, @unchecked Sendable {
    public let name: String
    public var capabilities: StoreCapabilities {
        forumTopics ? [.listing, .deletion, .deferredCommit, .oneCluster, .groupDeletion] : [.listing, .deletion, .deferredCommit, .oneCluster]
    }
    public var maxObjectSize: Int? { nil }
    public var location: String { "telegram:\(api.chatID)" }

    let api: TelegramBotAPI
    let partSize: Int
    let workDirectory: String
    let keyRing: KeyRing?
    let pacer: TelegramPacer
    let clock: @Sendable () -> Int64
    let state = Mutex<State>(State())
    let documents: TelegramDocumentCache
    /// Retries of a request that failed transiently.
    let retryPolicy: RetryingStore.Policy
    /// The largest catalog document walvault sends; a generation that would be larger is sent
    /// in slices (`TelegramCatalog.Delta.slices(limit:)`). Under the cloud Bot API's 20 MiB
    /// download limit, with room for the seal.
    let catalogDocumentLimit: Int
    public static let defaultCatalogDocumentLimit = 16 << 20
    /// How long a writer waits after pinning a catalog before it trusts the pin, and the longest
    /// its check of the pinned catalog and its pin may take (see `pin(_:after:)`).
    let catalogSettleSeconds: Double
    public static let defaultCatalogSettleSeconds = 1.0
    /// `forum_topics`: each `ObjectGroup` (a base backup and its WAL) goes into a forum topic of
    /// its own, which retention deletes whole when nothing in it is kept, whatever its age.
    let forumTopics: Bool

    /// Only ever touched under `state`'s lock.
    struct State: @unchecked Sendable {
        /// The catalog as the pinned message has it, and where that message is.
        var durable: TelegramCatalog?
        var pinned: TelegramCatalog.Pointer?
        /// `durable` with this process's commits and deletions applied.
        var working = TelegramCatalog()
        var changes: [Change] = []
        /// Objects committed into the document still being filled: visible, not yet placed.
        var waiting: [String: Waiting] = [:]
        var bundle: OpenBundle?
        var bundleSerial = 0
        /// Objects removed since the last flush, and the documents that became unused.
        var removed: [String: [TelegramCatalog.Document]] = [:]
        /// Lowered when the server refused a document as too large (413).
        var effectivePartSize: Int?
        /// Where each sent bundle's bytes went, by serial, for extents still naming the bundle.
        var sentBundles: [Int: BundlePlacement] = [:]
        /// The chat and the bot's rights were found fit for topics (once per process).
        var forumChecked = false
        /// Topics this process opened: not in the pinned catalog until its next flush.
        var createdTopics: Set<Int> = []
    }

    enum Change {
        case put(TelegramCatalog.Entry)
        case remove(String)
    }

    struct Waiting {
        var entry: TelegramCatalog.Entry
        /// Extents whose `message` is still the open bundle's serial, negated.
        var unplaced: Bool
    }

    public init(
        name: String, api: TelegramBotAPI, partSize: Int, workDirectory: String, keyRing: KeyRing?,
        pacer: TelegramPacer = TelegramPacer(), retryDelays: [Double] = [0.5, 1, 2, 4, 8],
        clock: @escaping @Sendable () -> Int64 = { WallClock.nowMicros() }, catalogDocumentLimit: Int = defaultCatalogDocumentLimit,
        catalogSettleSeconds: Double = defaultCatalogSettleSeconds, forumTopics: Bool = false
    ) {
        self.forumTopics = forumTopics
        self.catalogDocumentLimit = catalogDocumentLimit
        self.catalogSettleSeconds = catalogSettleSeconds
        // The longest of `retryDelays` bounds the back-off; each wait is jittered below it.
        retryPolicy = RetryingStore.Policy(
            attempts: retryDelays.count + 1, baseDelayMicros: Int((retryDelays.first ?? 0.5) * 1_000_000),
            maxDelayMicros: Int((retryDelays.last ?? 8) * 1_000_000))
        self.name = name
        self.api = api
        self.partSize = partSize
        self.workDirectory = workDirectory
        self.keyRing = keyRing
        self.pacer = pacer
        self.clock = clock
        documents = TelegramDocumentCache(directory: Paths.join(workDirectory, "documents"), budget: max(64 << 20, 2 * partSize))
    }

    func failure(_ problem: String, fix: String, kind: StoreError.Kind = .permanent) -> StoreError {
        StoreError(store: name, kind: kind, problem: problem, fix: fix)
    }

    // MARK: Reading

    public func list(directory: String, namePrefix: String) throws -> [StoreObject] {
        try withCatalog { state in
            var objects = state.working.objects(directory: directory, namePrefix: namePrefix).map(Self.object)
            let prefix = directory.isEmpty ? namePrefix : directory + "/" + namePrefix
            for waiting in state.waiting.values
            where waiting.entry.key.hasPrefix(prefix) && Paths.dirname(waiting.entry.key) == (directory.isEmpty ? "." : directory) {
                objects.append(Self.object(waiting.entry))
            }
            return objects.sorted { $0.key < $1.key }
        }
    }

    public func listSubdirectories(directory: String) throws -> [String] {
        try withCatalog { state in
            var names = Set(state.working.subdirectories(of: directory))
            let prefix = directory.isEmpty ? "" : directory + "/"
            for key in state.waiting.keys where key.hasPrefix(prefix) {
                let rest = key.dropFirst(prefix.count)
                if let slash = rest.firstIndex(of: "/") { names.insert(String(rest[..<slash])) }
            }
            return names.sorted()
        }
    }

    public func head(key: String) throws -> StoreObject? {
        try withCatalog { state in
            (state.working.entries[key] ?? state.waiting[key]?.entry).map(Self.object)
        }
    }

    static func object(_ entry: TelegramCatalog.Entry) -> StoreObject {
        StoreObject(key: entry.key, size: entry.size, modifiedAt: entry.stored)
    }

    public func handle(of key: String) -> String? {
        state.withLock { state in
            guard let entry = state.working.entries[key], let first = entry.extents.first else { return nil }
            return state.working.documents[first.message]?.fileID
        }
    }

    public func openReader(key: String) throws -> ObjectReader {
        var placed: (TelegramCatalog.Entry, [Int: TelegramCatalog.Document])?
        try withCatalog { state in
            if state.waiting[key] != nil { try sendBundle(&state) }
            if let entry = state.working.entries[key] {
                placed = (entry, state.working.documents)
            }
        }
        guard let (entry, documents) = placed else {
            throw failure("no object \(key)", fix: "run walvault info to see what the store holds", kind: .notFound)
        }
        return TelegramObjectReader(store: self, entry: entry, documents: documents)
    }

    /// A document's bytes on this machine, downloaded and checked against its SHA-256 if needed.
    func localDocument(_ document: TelegramCatalog.Document) throws -> FileDescriptor {
        try repeating {
            try documents.open(document) { sink in
                try api.download(fileID: document.fileID, expectedSize: document.size, sink: sink)
            }
        }
    }

    public func readSmall(key: String) throws -> [UInt8]? {
        guard try head(key: key) != nil else { return nil }
        let reader = try openReader(key: key)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { return bytes }
            bytes += buffer[0..<n]
        }
    }

    // MARK: Writing

    public func makeWriter(directory: String) throws -> ObjectWriter {
        try makeWriter(directory: directory, group: nil)
    }

    public func makeWriter(directory: String, group: ObjectGroup?) throws -> ObjectWriter {
        try TelegramObjectWriter(store: self, directory: directory, group: forumTopics ? group : nil)
    }

    public func createSmall(key: String, contents: [UInt8]) throws -> Bool {
        try createSmall(key: key, contents: contents, group: nil)
    }

    public func createSmall(key: String, contents: [UInt8], group: ObjectGroup?) throws -> Bool {
        let writer = try makeWriter(directory: Paths.dirname(key) == "." ? "" : Paths.dirname(key), group: group)
        try contents.withUnsafeBytes { try writer.write($0) }
        if case .stored = try writer.commit(name: Paths.basename(key)) { return true }
        return false
    }

    /// Places a writer's bytes (in `spill`) into documents, sending each one that fills up.
    func commit(key: String, spill: FileDescriptor, size: Int, sha256: String, group: ObjectGroup?) throws -> CommitOutcome {
        try withCatalog { state in
            if let existing = state.working.entries[key] ?? state.waiting[key]?.entry {
                return .alreadyPresent([Self.object(existing)])
            }
            let topic = try group.map { try topicThread(for: $0, &state) }
            // A document lies in one topic: the open one goes out before an object of another group.
            if let bundle = state.bundle, bundle.topic != topic { try sendBundle(&state) }
            var extents: [TelegramCatalog.Extent] = []
            var offset = 0
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while offset < size {
                if state.bundle == nil {
                    state.bundleSerial += 1
                    state.bundle = try OpenBundle(directory: workDirectory, serial: state.bundleSerial, store: name, topic: topic)
                }
                let room = (state.effectivePartSize ?? partSize) - state.bundle!.size
                let take = min(room, size - offset)
                let start = state.bundle!.size
                var copied = 0
                while copied < take {
                    let n = try buffer.withUnsafeMutableBytes {
                        try spill.pread(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<min($0.count, take - copied)]), at: offset + copied)
                    }
                    guard n > 0 else { throw failure("a staged object ended early", fix: "check the spool's disk") }
                    try buffer.withUnsafeBytes { try state.bundle!.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    copied += n
                }
                // Placeholders name the bundle by its negated serial until it is sent.
                if take > 0 { extents.append(TelegramCatalog.Extent(message: -state.bundle!.serial, offset: start, length: take)) }
                offset += take
                if state.bundle!.size >= (state.effectivePartSize ?? partSize) {
                    try sendBundle(&state)
                    extents = resolve(extents, in: state)
                }
            }
            let entry = TelegramCatalog.Entry(key: key, size: size, sha256: sha256, stored: clock(), extents: extents)
            if entry.extents.contains(where: { $0.message < 0 }) {
                state.waiting[key] = Waiting(entry: entry, unplaced: true)
            } else {
                state.working.put(entry)
                state.changes.append(.put(entry))
            }
            return .stored(Self.object(entry))
        }
    }

    /// Extents that name a bundle already sent, turned into real messages.
    func resolve(_ extents: [TelegramCatalog.Extent], in state: State) -> [TelegramCatalog.Extent] {
        extents.flatMap { extent -> [TelegramCatalog.Extent] in
            guard extent.message < 0, let placed = state.sentBundles[-extent.message] else { return [extent] }
            return placed.map(extent)
        }
    }

    /// Sends the document being filled (splitting it if the server calls it too large), then
    /// places the objects waiting on it.
    func sendBundle(_ state: inout State) throws {
        guard let bundle = state.bundle, bundle.size > 0 else { return }
        let placement = try send(bundle: bundle, range: 0..<bundle.size, state: &state)
        state.sentBundles[bundle.serial] = placement
        state.bundle = nil
        bundle.close()
        for (key, waiting) in state.waiting {
            let extents = resolve(waiting.entry.extents, in: state)
            guard !extents.contains(where: { $0.message < 0 }) else { continue }
            var entry = waiting.entry
            entry.extents = extents
            state.waiting[key] = nil
            state.working.put(entry)
            state.changes.append(.put(entry))
        }
    }

    func send(bundle: OpenBundle, range: Range<Int>, state: inout State) throws -> BundlePlacement {
        let sha = try bundle.sha256(range)
        do {
            let message = try repeating {
                pacer.waitForTurn()
                return try api.sendDocument(
                    length: range.count,
                    readAt: { offset, buffer in
                        try bundle.file.pread(
                            into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(buffer.count, range.count - offset)]),
                            at: range.lowerBound + offset)
                    }, filename: "walvault-\(bundle.serial)-\(range.lowerBound).bin", caption: "walvault data \(range.count) bytes",
                    thread: bundle.topic)
            }
            guard let document = message.document else {
                throw failure("sendDocument answered a message without a document", fix: "check that api_base is a Telegram Bot API server")
            }
            let stored = TelegramCatalog.Document(
                message: message.message_id, fileID: document.file_id, size: range.count, sha256: sha, date: message.date, topic: bundle.topic)
            state.working.add(stored)
            return BundlePlacement(pieces: [(range.lowerBound, stored)])
        } catch let error as StoreError where error.refusal == .groupGone {
            // Someone deleted the topic in Telegram (or another writer's expire did): the group
            // gets a new one, and the document goes there.
            guard let thread = bundle.topic, let topic = state.working.topics[thread], !state.createdTopics.contains(thread) else {
                throw error
            }
            state.working.close(topic: thread)
            bundle.topic = try topicThread(for: ObjectGroup(name: topic.name), &state)
            return try send(bundle: bundle, range: range, state: &state)
        } catch let error as StoreError where error.refusal == .tooLarge && range.count > 64 << 10 {
            // The server (or a proxy before it) takes less than part_size_mb: halve and go on
            // with the smaller size for the rest of this run.
            let half = range.lowerBound + range.count / 2
            state.effectivePartSize = min(state.effectivePartSize ?? partSize, range.count / 2)
            let first = try send(bundle: bundle, range: range.lowerBound..<half, state: &state)
            let second = try send(bundle: bundle, range: half..<range.upperBound, state: &state)
            return BundlePlacement(pieces: first.pieces + second.pieces)
        }
    }

    /// Requests are repeated here on transient failures (a 502, a dropped connection), with the one
    /// retry policy every driver gets (`RetryingStore.Policy`): sends because their bytes are on
    /// disk and nothing above replays a commit, reads of the catalog and documents because every
    /// operation starts with them. 429s were already waited out.
    func repeating<T>(_ body: () throws -> T) throws -> T {
        try retryPolicy.run(body)
    }

    // MARK: Forum topics

    /// The topic objects of `group` go into, opened now if the group has none.
    func topicThread(for group: ObjectGroup, _ state: inout State) throws -> Int {
        if let open = state.working.openTopic(named: group.name) { return open.thread }
        try checkForum(&state)
        let thread = try repeating {
            pacer.waitForTurn()
            return try api.createForumTopic(name: String(group.name.prefix(128)))
        }
        state.working.add(TelegramCatalog.Topic(thread: thread, name: group.name))
        state.createdTopics.insert(thread)
        return thread
    }

    /// Refuses, in one line naming what to change, a chat that is no forum or a bot that may
    /// not open or delete topics: found before anything is sent or removed, not half-way.
    func checkForum(_ state: inout State) throws {
        guard forumTopics, !state.forumChecked else { return }
        if let unfit = try forumUnfitness() {
            throw failure(
                "forum_topics = true, but " + unfit.problem, fix: unfit.fix + ", or set forum_topics = false in this store's [[stores]] entry")
        }
        state.forumChecked = true
    }

    /// The same check, for `walvault check`.
    public func checkForum() throws {
        try state.withLock { try checkForum(&$0) }
    }

    /// Why this chat and bot cannot have a topic per backup, and what to change; nil when they
    /// can. Asked whatever `forum_topics` says, so `init` can tell the owner.
    public func forumUnfitness() throws -> (problem: String, fix: String)? {
        let chat = try repeating { try api.getChat() }
        guard chat.type == "supergroup", chat.is_forum == true else {
            return (
                "chat \(api.chatID) is not a forum supergroup (Topics are off)",
                "turn Topics on in the group's settings (Edit → Topics; docs/cloud-setup.md)"
            )
        }
        let bot = try repeating { try api.getMe() }
        let member = try repeating { try api.getChatMember(bot.id) }
        guard member.status == "administrator" || member.status == "creator" else {
            return (
                "the bot is not an administrator of chat \(api.chatID) (it is \(member.status))",
                "make the bot an administrator with the rights Manage topics and Delete messages"
            )
        }
        var missing: [String] = []
        if member.status == "administrator", member.can_manage_topics != true { missing.append("Manage topics") }
        if member.status == "administrator", member.can_delete_messages != true { missing.append("Delete messages") }
        guard missing.isEmpty else {
            return (
                "the bot lacks the administrator right\(missing.count > 1 ? "s" : "") \(missing.joined(separator: " and ")) in chat \(api.chatID)",
                "grant \(missing.joined(separator: " and ")) to the bot in the chat's administrators"
            )
        }
        return nil
    }

    /// When the oldest document the catalog still uses was sent (seconds since the epoch), in the
    /// chat itself (not a topic): what `check` compares with the retention window.
    public func oldestUntopicedDocumentDate() throws -> Int? {
        try withCatalog { state in state.working.documents.values.filter { $0.topic == nil }.map(\.date).min() }
    }

    /// After the catalog marking them closing is pinned: deletes those topics, each with all its
    /// messages. One that fails stays closing in the catalog, and the next flush tries again.
    func deleteClosingTopics(_ state: inout State, into report: inout FlushReport) {
        for topic in state.working.topics.values.filter(\.closing).sorted(by: { $0.thread < $1.thread }) {
            do {
                try repeating { try api.deleteForumTopic(topic.thread) }
                report.groupsDeleted[topic.name, default: 0] += topic.bytes
                state.working.forget(topic: topic.thread)
            } catch let error as StoreError where error.refusal == .groupGone {
                // Deleted already (by an earlier run that died before recording it, or by hand).
                state.working.forget(topic: topic.thread)
            } catch let error as StoreError {
                report.groupsLeft[topic.name] = error.problem + "; " + error.fix
            } catch {
                report.groupsLeft[topic.name] = "\(error)"
            }
        }
    }

    // MARK: Deleting

    public func delete(key: String) throws {
        try withCatalog { state in
            try checkForum(&state)
            if state.waiting[key] != nil {
                // Still in the document being filled: that document goes out with it (harmless,
                // and nothing will name it), the catalog never does.
                state.waiting[key] = nil
                return
            }
            guard state.working.entries[key] != nil else { return }
            let orphans = state.working.remove(key: key)
            state.changes.append(.remove(key))
            state.removed[key] = orphans
            // Documents shared with objects still kept stay; when those go, they are orphans then.
        }
    }

    // MARK: Flushing: the commit point

    public func flush() throws -> FlushReport {
        try lockCatalog {
            try withCatalog { state in
                try sendBundle(&state)
                guard !state.changes.isEmpty || state.working.topics != (state.durable?.topics ?? [:]) else {
                    // Nothing to record; topics an earlier run marked closing are tried again.
                    var report = FlushReport()
                    if forumTopics { deleteClosingTopics(&state, into: &report) }
                    return report
                }
                for _ in 0..<Self.pinAttempts {
                    // Another process may have pinned a newer catalog (expire while ship ran, or
                    // another machine): start from it and apply this process's changes again.
                    let pinned = try repeating { try pinnedCatalog() }
                    if let pinned, pinned.pointer != state.pinned { try rebase(&state, on: pinned) }
                    // A topic nothing kept uses is marked closing in the catalog pinned now, and deleted after.
                    if forumTopics { for thread in state.working.unusedTopics { state.working.close(topic: thread) } }
                    if let previous = state.pinned, let generation = state.durable?.generation {
                        state.working.retire(TelegramCatalog.Retired(generation: generation, message: previous.message))
                    }
                    let base = state.durable ?? TelegramCatalog()
                    let delta = base.delta(to: state.working, previous: state.pinned)
                    let pointer = try writeCatalog(delta)
                    guard try pin(pointer, after: state.pinned) else { continue }
                    // Compare after the pin has settled: a writer that read the same predecessor
                    // and pinned first is caught here, one that pins later by its own check.
                    usleep(UInt32(catalogSettleSeconds * 1_000_000))
                    guard try isStillCurrent(pointer, generation: delta.generation) else { continue }
                    var next = base
                    try next.apply(delta)
                    state.durable = next
                    state.pinned = pointer
                    state.changes = []
                    saveCachedCatalog(next, pointer: pointer)
                    var report = deleteOrphans(&state)
                    if forumTopics { deleteClosingTopics(&state, into: &report) }
                    deleteRetiredCatalogs(&state, pinned: delta.generation)
                    return report
                }
                throw failure(
                    "the catalog of chat \(api.chatID) could not be pinned in \(Self.pinAttempts) attempts: each time another writer's replaced it, or checking and pinning took longer than \(catalogSettleSeconds) s",
                    fix:
                        "ship each cluster to a chat of its own, from one machine at a time, over a link that answers within a second; this run's objects are shipped again next time",
                    kind: .transient)
            }
        }
    }

    /// How often a flush writes its catalog again after another writer's replaced it.
    static let pinAttempts = 8

    /// Pins `pointer` if `predecessor` is still the pinned catalog, checked and pinned within
    /// `catalogSettleSeconds`; a pin that took longer is taken back. Telegram has no
    /// compare-and-swap, so two writers that read the same predecessor can both pin. Every writer
    /// waits `catalogSettleSeconds` after its pin before it trusts it, and no writer's check and
    /// pin take longer than that: so whichever of two such pins comes second, the other writer
    /// sees it after its wait, and writes its catalog again on top of it.
    func pin(_ pointer: TelegramCatalog.Pointer, after predecessor: TelegramCatalog.Pointer?) throws -> Bool {
        let clock = Stopwatch()
        if let current = try repeating({ try pinnedCatalog() }), current.pointer != predecessor { return false }
        try repeating { try api.pinChatMessage(pointer.message) }
        guard clock.seconds < catalogSettleSeconds else {
            try? repeating { try api.unpinChatMessage(pointer.message) }
            return false
        }
        return true
    }

    /// The state of the newer catalog `pinned`, with this process's changes applied to it again.
    func rebase(_ state: inout State, on pinned: (pointer: TelegramCatalog.Pointer, caption: TelegramCatalogCaption.Parsed)) throws {
        let newer = try repeating { try readCatalog(from: pinned) }
        state.durable = newer.catalog
        state.pinned = newer.pointer
        var working = newer.catalog
        // Topics this process opened are not in the newer catalog yet.
        for thread in state.createdTopics where working.topics[thread] == nil {
            if let topic = state.working.topics[thread] { working.add(topic) }
        }
        var changes: [Change] = []
        for change in state.changes {
            switch change {
            case .put(let entry):
                let documents = entry.extents.compactMap { state.working.documents[$0.message] }
                // Sent into a topic the newer catalog closed (or that is gone from it): those
                // documents may be deleted already. The object is left out, so the shipper,
                // finding it missing, sends it again into the group's next topic.
                let lost = documents.contains { document in
                    guard let thread = document.topic else { return false }
                    return working.topics[thread]?.closing ?? true
                }
                if lost { continue }
                for document in documents { working.add(document) }
                working.put(entry)
            case .remove(let key): _ = working.remove(key: key)
            }
            changes.append(change)
        }
        state.changes = changes
        state.working = working
    }

    /// Whether the pinned catalog is `ours` or was built on it: walks back from the pinned one to
    /// `ours`'s generation, through captions and catalog documents.
    func isStillCurrent(_ ours: TelegramCatalog.Pointer, generation: Int) throws -> Bool {
        // A pinned message that is no catalog is no other writer's catalog.
        guard let pinned = try repeating({ try pinnedCatalog() }) else { return true }
        var pointer = pinned.pointer
        var pointerGeneration = pinned.caption.generation
        var previous = pinned.caption.previous
        while pointer != ours {
            guard pointerGeneration > generation, let before = previous else { return false }
            if pointerGeneration - 1 == generation { return before == ours }
            let head = try repeating { try readCatalogDocument(before) }
            (pointer, pointerGeneration, previous) = (before, head.generation, head.previous)
        }
        return true
    }

    /// Earlier catalog generations no reader can need any more, deleted while Telegram allows; one
    /// too old for that is only forgotten. A deletion that failed otherwise is tried at the next
    /// flush (the list goes out with every generation).
    func deleteRetiredCatalogs(_ state: inout State, pinned generation: Int) {
        let oldestNeeded = TelegramCatalog.oldestGenerationReadersNeed(pinned: generation)
        for record in state.working.retired where record.generation < oldestNeeded {
            // Gone, or kept by Telegram for good: nothing more to do either way.
            if case .failed = MessageDeletion.of({ try repeating { try api.deleteMessage(record.message) } }) { continue }
            state.working.forgetRetired(record)
        }
    }

    /// What a deleteMessage came to, read in one place for documents and catalogs.
    enum MessageDeletion {
        /// Deleted now, or already gone.
        case gone
        /// Older than the 48 hours Telegram lets a bot delete for: it stays.
        case keptByTelegram
        case failed(String)

        static let keptReason = "Telegram lets a bot delete messages for 48 hours only"

        static func of(_ delete: () throws -> Void) -> MessageDeletion {
            do {
                try delete()
                return .gone
            } catch let error as StoreError where error.kind == .notFound {
                return .gone
            } catch let error as StoreError where error.refusal == .deletionWindowPassed {
                return .keptByTelegram
            } catch let error as StoreError {
                return .failed("deleteMessage failed: \(error.problem)")
            } catch {
                return .failed("deleteMessage failed: \(error)")
            }
        }
    }

    /// After the catalog without them is pinned: delete what Telegram still lets a bot delete.
    func deleteOrphans(_ state: inout State) -> FlushReport {
        var report = FlushReport()
        let now = Int(clock() / 1_000_000)
        var outcome: [Int: String?] = [:]  // message → nil deleted, else why not
        for (key, documents) in state.removed {
            var reasons: [String] = []
            if documents.isEmpty, state.working.entries[key] == nil {
                reasons.append("its document still holds other objects")
            }
            for document in documents {
                if let thread = document.topic {
                    // Deleted with its topic, once nothing in that topic is kept.
                    if state.working.topics[thread]?.closing != true {
                        reasons.append("its forum topic still holds objects that are kept; it is deleted with the topic")
                    }
                    continue
                }
                if outcome[document.message] == nil {
                    if !TelegramDeletionWindow.mayDelete(sentAt: document.date, now: now) {
                        outcome[document.message] = .some(MessageDeletion.keptReason)
                    } else {
                        switch MessageDeletion.of({ try api.deleteMessage(document.message) }) {
                        case .gone: outcome[document.message] = .some(nil)
                        case .keptByTelegram: outcome[document.message] = .some(MessageDeletion.keptReason)
                        case .failed(let why): outcome[document.message] = .some(why)
                        }
                    }
                }
                if case .some(let why?) = outcome[document.message] { reasons.append(why) }
            }
            if let first = reasons.first { report.leftBehind[key] = first }
        }
        state.removed = [:]
        return report
    }

    // MARK: The catalog in the chat

    /// Runs `body` with the catalog loaded (from the chat the first time).
    func withCatalog<T>(_ body: (inout State) throws -> T) throws -> T {
        try state.withLock { state in
            if state.durable == nil {
                let loaded = try repeating { try readCatalog(from: try pinnedCatalog()) }
                state.durable = loaded.catalog
                state.pinned = loaded.pointer
                state.working = loaded.catalog
            }
            return try body(&state)
        }
    }

    /// The pinned message as a catalog pointer and its caption's facts; nil when the chat has none.
    func pinnedCatalog() throws -> (pointer: TelegramCatalog.Pointer, caption: TelegramCatalogCaption.Parsed)? {
        let chat = try api.getChat()
        guard let message = chat.pinned_message, let document = message.document,
            let caption = message.caption.flatMap(TelegramCatalogCaption.parse)
        else { return nil }
        return (TelegramCatalog.Pointer(message: message.message_id, fileID: document.file_id, sha256: caption.sha256), caption)
    }

    struct Loaded {
        var catalog: TelegramCatalog
        var pointer: TelegramCatalog.Pointer?
    }

    /// The state as of the newest catalog that can be read: the pinned one, or (if its document
    /// is lost or damaged) the one its caption names before it, and so on.
    func readCatalog(from pinned: (pointer: TelegramCatalog.Pointer, caption: TelegramCatalogCaption.Parsed)?) throws -> Loaded {
        guard let pinned else { return Loaded(catalog: TelegramCatalog(), pointer: nil) }
        if let cached = cachedCatalog(pointer: pinned.pointer) { return Loaded(catalog: cached, pointer: pinned.pointer) }
        var candidate: TelegramCatalog.Pointer? = pinned.pointer
        var fallbackFromCaption = pinned.caption.previous
        var skipped: [String] = []
        while let pointer = candidate {
            do {
                let catalog = try chain(from: pointer)
                saveCachedCatalog(catalog, pointer: pointer)
                if !skipped.isEmpty {
                    StoreNotices.post(
                        "store \"\(name)\": the newest catalog (\(skipped.joined(separator: ", "))) could not be read; using generation \(catalog.generation)"
                    )
                }
                return Loaded(catalog: catalog, pointer: pointer)
            } catch let error as StoreError where error.kind == .auth {
                throw error
            } catch {
                skipped.append("message \(pointer.message): \(error)")
                candidate = fallbackFromCaption
                fallbackFromCaption = nil
            }
        }
        throw failure(
            "no catalog in chat \(api.chatID) can be read (\(skipped.joined(separator: "; ")))",
            fix: "check [encryption] (the catalog is encrypted with the same passphrase as the objects) and that this is the chat walvault ships to")
    }

    /// Downloads catalogs back from `pointer` to the last snapshot, and replays them.
    func chain(from pointer: TelegramCatalog.Pointer) throws -> TelegramCatalog {
        var deltas: [TelegramCatalog.Delta] = []
        var next: TelegramCatalog.Pointer? = pointer
        while let pointer = next {
            guard deltas.count <= TelegramCatalog.snapshotEvery + 1 else {
                throw failure(
                    "the catalog chain in chat \(api.chatID) has no snapshot within \(TelegramCatalog.snapshotEvery) generations",
                    fix: "run walvault ship --catch-up to write a new catalog")
            }
            let delta = try readCatalogDocument(pointer)
            deltas.append(delta)
            if delta.snapshot { break }
            guard let previous = delta.previous else {
                throw failure(
                    "catalog generation \(delta.generation) names no predecessor and is not a snapshot", fix: "run walvault ship --catch-up")
            }
            next = previous
        }
        do {
            var catalog = TelegramCatalog()
            for head in deltas.reversed() {
                guard let pointers = head.slices else {
                    try catalog.apply(head)
                    continue
                }
                var sealed = try downloadSlices(pointers, generation: head.generation)
                try catalog.apply(head, slices: pointers.count) { i in
                    // Decoded one at a time, each slice's bytes let go as soon as it is applied.
                    let bytes = sealed[i]
                    sealed[i] = []
                    return try decodeSlice(bytes, pointer: pointers[i], generation: head.generation)
                }
            }
            return catalog
        } catch let error as TelegramCatalog.Inconsistent {
            throw failure(
                "the catalog in chat \(api.chatID) is inconsistent: \(error.description)", fix: "run walvault ship --catch-up to write a new catalog")
        }
    }

    /// A generation's slices, downloaded side by side and checked against their SHA-256s; still sealed.
    func downloadSlices(_ pointers: [TelegramCatalog.Pointer], generation: Int) throws -> [[UInt8]] {
        let downloaded = Mutex<[Int: [UInt8]]>([:])
        let failed = Mutex<(any Error)?>(nil)
        let workers = min(4, pointers.count)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for i in stride(from: worker, to: pointers.count, by: workers) {
                guard failed.withLock({ $0 == nil }) else { return }
                let what = "catalog slice message \(pointers[i].message) (generation \(generation))"
                do {
                    let bytes = try repeating { try downloadChecked(pointers[i], what: what) }
                    downloaded.withLock { $0[i] = bytes }
                } catch {
                    failed.withLock { $0 = $0 ?? error }
                }
            }
        }
        if let error = failed.withLock({ $0 }) { throw error }
        return downloaded.withLock { all in pointers.indices.map { all[$0] ?? [] } }
    }

    func decodeSlice(_ sealed: [UInt8], pointer: TelegramCatalog.Pointer, generation: Int) throws -> TelegramCatalog.Slice {
        let what = "catalog slice message \(pointer.message) (generation \(generation))"
        let plain = try TelegramCatalogSeal.open(sealed, keyRing: keyRing, store: name, what: what)
        do {
            return try TelegramCatalog.Slice.decode(plain)
        } catch {
            throw failure("\(what) is not a walvault catalog slice", fix: "the previous catalog is used")
        }
    }

    /// One generation's document: the whole generation, or (format 2) the head that names its slices.
    func readCatalogDocument(_ pointer: TelegramCatalog.Pointer) throws -> TelegramCatalog.Delta {
        let what = "catalog message \(pointer.message)"
        let plain = try TelegramCatalogSeal.open(try downloadChecked(pointer, what: what), keyRing: keyRing, store: name, what: what)
        let head: TelegramCatalog.Delta
        do {
            head = try TelegramCatalog.Delta.decode(plain)
        } catch {
            throw failure("\(what) is not a walvault catalog", fix: "check chat_id")
        }
        guard head.format <= 2 else {
            throw failure("\(what) is catalog format \(head.format), newer than this walvault reads", fix: "upgrade walvault")
        }
        return head
    }

    /// A catalog document's bytes, checked against the SHA-256 its pointer names.
    func downloadChecked(_ pointer: TelegramCatalog.Pointer, what: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        let hasher = SHA256Hasher()
        try api.download(fileID: pointer.fileID, expectedSize: nil) { chunk in
            guard bytes.count + chunk.count <= 64 << 20 else {
                throw failure("\(what) is larger than 64 MiB", fix: "this is not a walvault catalog")
            }
            hasher.update(chunk)
            bytes.append(contentsOf: chunk)
        }
        guard hasher.finalizeHex() == pointer.sha256 else {
            throw failure("\(what) does not match its SHA-256", fix: "the previous catalog is used")
        }
        return bytes
    }

    /// Sends a generation, in slices first when it is too large for one document; `flush` pins it.
    func writeCatalog(_ delta: TelegramCatalog.Delta) throws -> TelegramCatalog.Pointer {
        // The seal adds a header and a tag; 4 KiB is ample room for them.
        let slices = try delta.slices(limit: catalogDocumentLimit - 4096)
        var head = delta
        if slices.count > 1 {
            var pointers: [TelegramCatalog.Pointer] = []
            for slice in slices {
                let caption = "walvault catalog-slice \(delta.generation) \(slice.index + 1)/\(slices.count)"
                pointers.append(
                    try sendSealed(try slice.encoded(), filename: "walvault-catalog-\(delta.generation)-\(slice.index + 1).json") { _ in caption })
            }
            head = delta.head(slices: pointers)
        }
        return try sendSealed(try head.encoded(), filename: "walvault-catalog-\(delta.generation).json") { sha in
            TelegramCatalogCaption.make(generation: delta.generation, sha256: sha, previous: delta.previous)
        }
    }

    func sendSealed(_ plain: [UInt8], filename: String, caption: (String) -> String) throws -> TelegramCatalog.Pointer {
        let sealed = try TelegramCatalogSeal.seal(plain, keyRing: keyRing)
        let sha = SHA256Hasher.hex(of: sealed)
        let message = try repeating {
            pacer.waitForTurn()
            return try api.sendDocument(sealed, filename: filename, caption: caption(sha))
        }
        guard let document = message.document else {
            throw failure("sendDocument answered a message without a document", fix: "check that api_base is a Telegram Bot API server")
        }
        return TelegramCatalog.Pointer(message: message.message_id, fileID: document.file_id, sha256: sha)
    }

    /// One catalog writer per machine at a time (ship and expire); another machine writing the
    /// same chat is caught by the pinned message having moved.
    func lockCatalog<T>(_ body: () throws -> T) throws -> T {
        let path = Paths.join(workDirectory, "catalog.lock")
        let lock: FileDescriptor
        do {
            try FileSystem.makeDirectories(workDirectory, mode: 0o700)
            lock = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600)
            try lock.lockExclusive()
        } catch let error as SystemError {
            throw failure("cannot lock \(path): \(error.reason)", fix: error.hint ?? "check the spool's permissions")
        }
        defer { _ = lock }
        return try body()
    }

    // MARK: The catalog as last read, on this machine

    /// The catalog as a header and its items in slices of `cacheSliceItems`, each a JSON document
    /// behind its length (8 bytes, little-endian), written and read one slice at a time: the
    /// memory is one slice's encoding, whatever the catalog's size.
    var cachePath: String { Paths.join(workDirectory, "catalog.slices") }
    static let cacheSliceItems = 20_000

    struct CacheHeader: Codable {
        var pointer: TelegramCatalog.Pointer
        var generation: Int
        var slices: Int
        var topics: [TelegramCatalog.Topic]?
        var retired: [TelegramCatalog.Retired]?
    }

    func cachedCatalog(pointer: TelegramCatalog.Pointer) -> TelegramCatalog? {
        guard let file = try? FileDescriptor.openForReading(cachePath) else { return nil }
        defer { try? file.close() }
        func frame() throws -> [UInt8] {
            var length: UInt64 = 0
            guard try withUnsafeMutableBytes(of: &length, { try file.readFully(into: $0) }) == 8, UInt64(littleEndian: length) <= 64 << 20
            else { throw failure("the catalog cache ends early", fix: "it is read from the chat again") }
            var bytes = [UInt8](repeating: 0, count: Int(UInt64(littleEndian: length)))
            guard try bytes.withUnsafeMutableBytes({ try file.readFully(into: $0) }) == bytes.count else {
                throw failure("the catalog cache ends early", fix: "it is read from the chat again")
            }
            return bytes
        }
        guard let header = try? JSONDecoder().decode(CacheHeader.self, from: Data(frame())), header.pointer == pointer else { return nil }
        var catalog = TelegramCatalog()
        var head = TelegramCatalog.Delta(generation: header.generation, previous: nil, snapshot: true, documents: [], put: [], delete: [])
        head.topics = header.topics
        head.retired = header.retired
        do {
            try catalog.apply(head, slices: header.slices) { _ in try TelegramCatalog.Slice.decode(try frame()) }
        } catch {
            return nil
        }
        return catalog
    }

    func saveCachedCatalog(_ catalog: TelegramCatalog, pointer: TelegramCatalog.Pointer) {
        let all = TelegramCatalog.Slice(
            generation: catalog.generation, index: 0, documents: Array(catalog.documents.values), put: Array(catalog.entries.values), delete: [])
        let count = (all.itemCount + Self.cacheSliceItems - 1) / Self.cacheSliceItems
        do {
            try FileSystem.makeDirectories(workDirectory, mode: 0o700)
            try FileSystem.writeAtomically(cachePath, mode: 0o600) { file in
                func frame(_ bytes: [UInt8]) throws {
                    var length = UInt64(bytes.count).littleEndian
                    try withUnsafeBytes(of: &length) { try file.writeAll($0) }
                    try file.writeAll(bytes)
                }
                try frame(
                    Array(
                        try JSONEncoder().encode(
                            CacheHeader(
                                pointer: pointer, generation: catalog.generation, slices: count,
                                topics: catalog.topics.isEmpty ? nil : catalog.topics.values.sorted { $0.thread < $1.thread },
                                retired: catalog.retired.isEmpty ? nil : catalog.retired))))
                for i in 0..<count {
                    var slice = all.items((i * Self.cacheSliceItems)..<min(all.itemCount, (i + 1) * Self.cacheSliceItems))
                    slice.index = i
                    try frame(try slice.encoded())
                }
            }
            // What walvault before format 2 kept instead: one JSON document.
            try? FileSystem.remove(Paths.join(workDirectory, "catalog.state"))
        } catch {
            // Only a cache: the next process reads the catalog from the chat.
        }
    }
}
