import Testing
import WalvaultPipeline
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultStores

#if canImport(Glibc)
    import Glibc
#endif

/// The catalog's meaning, without a network.
@Suite struct TelegramCatalogTests {
    typealias Catalog = TelegramCatalog

    func document(_ message: Int, size: Int = 100, date: Int = 1000) -> Catalog.Document {
        Catalog.Document(message: message, fileID: "F\(message)", size: size, sha256: String(repeating: "a", count: 64), date: date)
    }

    func entry(_ key: String, _ extents: [(Int, Int, Int)]) -> Catalog.Entry {
        Catalog.Entry(
            key: key, size: extents.reduce(0) { $0 + $1.2 }, sha256: String(repeating: "b", count: 64), stored: 1,
            extents: extents.map { Catalog.Extent(message: $0.0, offset: $0.1, length: $0.2) })
    }

    @Test func deltasReplayToTheSameStateAsTheWriterHad() throws {
        var durable = Catalog()
        var working = Catalog()
        var deltas: [Catalog.Delta] = []
        var previous: Catalog.Pointer?
        for generation in 1...40 {
            working.add(document(generation))
            working.put(entry("main/wal/seg-\(generation)", [(generation, 0, 60)]))
            working.put(entry("main/wal/seg-\(generation)b", [(generation, 60, 40)]))
            if generation % 3 == 0 { working.remove(key: "main/wal/seg-\(generation - 1)") }
            let delta = durable.delta(to: working, previous: previous)
            try durable.apply(delta)
            #expect(durable.entries == working.entries && durable.documents == working.documents, "generation \(generation)")
            deltas.append(delta)
            previous = Catalog.Pointer(message: 1000 + generation, fileID: "C\(generation)", sha256: String(repeating: "c", count: 64))
        }
        // The first and every 16th are snapshots; a reader needs only back to the last one.
        #expect(deltas.enumerated().filter(\.element.snapshot).map { $0.offset + 1 } == [1, 16, 32])
        let fromSnapshot = Array(deltas[31...])
        #expect(try Catalog.replay(fromSnapshot) == durable)
        // Encoded and decoded, byte for byte the same meaning.
        #expect(try Catalog.replay(fromSnapshot.map { try Catalog.Delta.decode($0.encoded()) }) == durable)
        #expect(durable.generation == 40)
    }

    @Test func aDocumentIsForgottenOnlyWhenNothingUsesIt() {
        var catalog = Catalog()
        catalog.add(document(1))
        catalog.put(entry("a", [(1, 0, 50)]))
        catalog.put(entry("b", [(1, 50, 50)]))
        #expect(catalog.remove(key: "a").isEmpty)
        #expect(catalog.documents[1] != nil)
        #expect(catalog.remove(key: "b").map(\.message) == [1])
        #expect(catalog.documents.isEmpty)
        #expect(catalog.remove(key: "b").isEmpty)
    }

    @Test func aDeltaThatSkipsAGenerationOrPointsOutsideItsDocumentsIsRefused() throws {
        var catalog = Catalog()
        try catalog.apply(
            Catalog.Delta(generation: 1, previous: nil, snapshot: true, documents: [document(1)], put: [entry("a", [(1, 0, 100)])], delete: []))
        #expect(throws: Catalog.Inconsistent.self) {
            try catalog.apply(Catalog.Delta(generation: 3, previous: nil, snapshot: false, documents: [], put: [], delete: []))
        }
        #expect(throws: Catalog.Inconsistent.self) {
            try catalog.apply(
                Catalog.Delta(generation: 2, previous: nil, snapshot: false, documents: [], put: [entry("b", [(1, 90, 20)])], delete: []))
        }
        #expect(throws: Catalog.Inconsistent.self) {
            try catalog.apply(Catalog.Delta(generation: 2, previous: nil, snapshot: false, documents: [], put: [entry("b", [(7, 0, 1)])], delete: []))
        }
    }

    /// A generation of `objects` objects over `documents` documents, with deletions of objects
    /// the catalog before it (`before(_:)`) held.
    func largeDelta(objects: Int, documents: Int, snapshot: Bool = false) -> Catalog.Delta {
        Catalog.Delta(
            generation: 7, previous: Catalog.Pointer(message: 6, fileID: "C6", sha256: String(repeating: "c", count: 64)), snapshot: snapshot,
            documents: (1...documents).map { document($0, size: 1 << 20) },
            put: (0..<objects).map { entry("main/wal/0000000100000000/seg-\($0)", [($0 % documents + 1, ($0 * 100) % 1000, 100)]) },
            delete: snapshot ? [] : (0..<25).map { "main/wal/old-\($0)" })
    }

    /// Generation 6: the objects generation 7 deletes, in a document of their own.
    func before() throws -> Catalog {
        var catalog = Catalog()
        var first = Catalog.Delta(
            generation: 6, previous: nil, snapshot: true, documents: [document(900, size: 1000)],
            put: (0..<25).map { entry("main/wal/old-\($0)", [(900, $0 * 10, 10)]) }, delete: [])
        first.format = 1
        try catalog.apply(first)
        return catalog
    }

    @Test(arguments: [(1, 1), (2, 1), (16, 1), (17, 16), (31, 16), (32, 16), (33, 32), (48, 32), (49, 48)] as [(Int, Int)])
    func aGenerationIsNeededWhileThePinnedChainOrItsFallbackReadsIt(pinned: Int, oldest: Int) {
        #expect(Catalog.oldestGenerationReadersNeed(pinned: pinned) == oldest)
        // The fallback (pinned - 1) and the snapshot its chain starts at are never collected.
        let fallback = max(1, pinned - 1)
        #expect(oldest <= max(1, fallback - fallback % Catalog.snapshotEvery) && oldest <= pinned)
    }

    @Test func retiredGenerationsTravelWithEveryGeneration() throws {
        var durable = Catalog()
        var working = Catalog()
        working.retire(Catalog.Retired(generation: 3, message: 30))
        working.retire(Catalog.Retired(generation: 3, message: 30))
        #expect(working.retired.count == 1)
        try durable.apply(durable.delta(to: working, previous: nil))
        #expect(durable.retired == working.retired)
        working.forgetRetired(Catalog.Retired(generation: 3, message: 30))
        let pointer = Catalog.Pointer(message: 50, fileID: "C", sha256: String(repeating: "c", count: 64))
        try durable.apply(try Catalog.Delta.decode(durable.delta(to: working, previous: pointer).encoded()))
        #expect(durable.retired.isEmpty)
    }

    @Test func topicsTravelWithEveryGenerationAndOneIsUnusedOnlyWhenNoDocumentOfItIsUsed() throws {
        var durable = Catalog()
        var working = Catalog()
        working.add(Catalog.Topic(thread: 7, name: "walvault main 20261101T030000Z"))
        working.add(Catalog.Topic(thread: 9, name: "walvault main 20261102T030000Z"))
        var inSeven = document(1, size: 300)
        inSeven.topic = 7
        working.add(inSeven)
        var inNine = document(2, size: 200)
        inNine.topic = 9
        working.add(inNine)
        working.put(entry("main/wal/a", [(1, 0, 100)]))
        working.put(entry("main/wal/b", [(1, 100, 100), (2, 0, 50)]))
        #expect(working.topics[7]?.bytes == 300 && working.topics[9]?.bytes == 200)
        #expect(working.unusedTopics.isEmpty)
        let first = durable.delta(to: working, previous: nil)
        try durable.apply(try Catalog.Delta.decode(first.encoded()))
        #expect(durable.entries == working.entries && durable.documents == working.documents && durable.topics == working.topics)
        // b spans both topics: topic 9 is unused only once b goes, topic 7 once a goes too.
        working.remove(key: "main/wal/b")
        #expect(working.unusedTopics == [9])
        working.close(topic: 9)
        #expect(working.unusedTopics.isEmpty && working.openTopic(named: "walvault main 20261102T030000Z") == nil)
        let pointer = Catalog.Pointer(message: 50, fileID: "C", sha256: String(repeating: "c", count: 64))
        let second = durable.delta(to: working, previous: pointer)
        #expect(!second.snapshot && second.topics?.map(\.thread) == [7, 9])
        // A generation cut into slices keeps its topics in the head.
        #expect(second.head(slices: [pointer]).topics == second.topics)
        try durable.apply(second)
        #expect(durable.topics[9]?.closing == true && durable.topics[7]?.closing == false)
        working.forget(topic: 9)
        try durable.apply(durable.delta(to: working, previous: pointer))
        #expect(durable.topics.keys.sorted() == [7])
        // A catalog written before topics (no "topics" at all) reads as one without them.
        let old = Catalog.Delta(generation: 1, previous: nil, snapshot: true, documents: [document(3)], put: [], delete: [])
        var legacy = Catalog()
        try legacy.apply(try Catalog.Delta.decode(old.encoded()))
        let oldText = String(decoding: try old.encoded(), as: UTF8.self)
        #expect(legacy.topics.isEmpty && !oldText.contains("topics"))
    }

    @Test(arguments: [1_500, 4_000, 20_000])
    func aGenerationTooLargeForOneDocumentIsCutIntoSlicesAppliedInTurn(limit: Int) throws {
        let delta = largeDelta(objects: 600, documents: 30)
        // Small batches, so slices are made of several measured pieces.
        let slices = try delta.slices(limit: limit, batch: 50)
        #expect(slices.count > 1)
        for (i, slice) in slices.enumerated() {
            #expect(slice.index == i && slice.generation == 7)
            #expect(try slice.encoded().count <= limit, "slice \(i)")
            #expect(try Catalog.Slice.decode(slice.encoded()) == slice)
        }
        // Every item in exactly one slice, in order; the documents before any object.
        #expect(slices.flatMap(\.documents) == delta.documents)
        #expect(slices.flatMap(\.put) == delta.put)
        #expect(slices.flatMap(\.delete) == delta.delete)
        let lastWithDocuments = slices.lastIndex { !$0.documents.isEmpty }!
        let firstWithObjects = slices.firstIndex { !$0.put.isEmpty }!
        #expect(lastWithDocuments <= firstWithObjects)
        let pointers = slices.indices.map { Catalog.Pointer(message: 100 + $0, fileID: "S\($0)", sha256: String(repeating: "d", count: 64)) }
        let head = delta.head(slices: pointers)
        #expect(head.format == 2 && head.put.isEmpty && head.documents.isEmpty && head.previous == delta.previous)
        let read = try Catalog.Delta.decode(head.encoded())
        // Applied slice by slice, the same state as the generation applied whole.
        var whole = try before()
        try whole.apply(delta)
        var sliced = try before()
        try sliced.apply(read, slices: slices.count) { slices[$0] }
        #expect(sliced == whole)
        #expect(sliced.entries.count == 600 && sliced.generation == 7)
        // A head applied without its slices would read as an empty catalog: refused.
        var catalog = try before()
        #expect(throws: Catalog.Inconsistent.self) { try catalog.apply(read) }
    }

    @Test func aSmallGenerationIsOneSliceAndAnItemLargerThanASliceIsRefused() throws {
        let delta = largeDelta(objects: 3, documents: 1)
        #expect(
            try delta.slices(limit: 1 << 20) == [
                Catalog.Slice(generation: 7, index: 0, documents: delta.documents, put: delta.put, delete: delta.delete)
            ])
        #expect(throws: Catalog.Inconsistent.self) { try delta.slices(limit: 150) }
    }

    @Test func slicesOfAnotherGenerationOrOutOfOrderAreRefused() throws {
        let delta = largeDelta(objects: 200, documents: 4, snapshot: true)
        let slices = try delta.slices(limit: 3_000)
        #expect(slices.count >= 3)
        var catalog = Catalog()
        #expect(throws: Catalog.Inconsistent.self) {
            try catalog.apply(delta, slices: slices.count) { [slices[1], slices[0]][$0 < 2 ? $0 : 0] }
        }
        var other = slices
        other[2].generation = 6
        #expect(throws: Catalog.Inconsistent.self) { try catalog.apply(delta, slices: other.count) { other[$0] } }
        // Objects before the documents they are in: refused, not left pointing nowhere.
        var swapped = slices
        swapped[0].documents = []
        #expect(throws: Catalog.Inconsistent.self) { try catalog.apply(delta, slices: swapped.count) { swapped[$0] } }
    }

    @Test func listingsAreByDirectoryAndPrefix() {
        var catalog = Catalog()
        catalog.add(document(1))
        for key in [
            "main/wal/0000000100000000/a-1", "main/wal/0000000100000000/b-1", "main/wal/00000002.history-x", "main/backup/L1/part",
            "main/archive.info"
        ] {
            catalog.put(entry(key, [(1, 0, 1)]))
        }
        #expect(catalog.objects(directory: "main/wal/0000000100000000", namePrefix: "a-").map(\.key) == ["main/wal/0000000100000000/a-1"])
        #expect(catalog.objects(directory: "main/wal", namePrefix: "").map(\.key) == ["main/wal/00000002.history-x"])
        #expect(catalog.objects(directory: "main", namePrefix: "archive").map(\.key) == ["main/archive.info"])
        #expect(catalog.subdirectories(of: "main") == ["backup", "wal"])
        #expect(catalog.subdirectories(of: "main/backup") == ["L1"])
    }

    @Test func theCaptionCarriesThePreviousCatalog() {
        let sha = String(repeating: "d", count: 64)
        let previous = Catalog.Pointer(message: 41, fileID: "BQACAgIAAxkDAAIBZ2V-_x", sha256: String(repeating: "e", count: 64))
        let caption = TelegramCatalogCaption.make(generation: 7, sha256: sha, previous: previous)
        #expect(TelegramCatalogCaption.parse(caption) == .init(generation: 7, sha256: sha, previous: previous))
        #expect(TelegramCatalogCaption.parse(TelegramCatalogCaption.make(generation: 1, sha256: sha, previous: nil))?.previous == nil)
        for other in [
            "walvault data 100 bytes", "hello", "walvault catalog x sha256=\(sha)", "walvault catalog 3 sha256=abc",
            "walvault catalog 3 sha256=\(sha) previous=1:F"
        ] {
            #expect(TelegramCatalogCaption.parse(other) == nil, "\(other)")
        }
    }

    @Test(arguments: [(0, true), (47 * 3600 - 1, true), (47 * 3600, false), (48 * 3600, false), (30 * 86400, false)])
    func deletionIsAttemptedOnlyInsideTelegramsWindow(age: Int, attempted: Bool) {
        #expect(TelegramDeletionWindow.mayDelete(sentAt: 1_000_000, now: 1_000_000 + age) == attempted)
    }

    @Test func thePacerKeepsBelowTheRate() {
        #expect(TelegramPacer.delay(sent: [], now: 100, rate: 3, window: 60) == 0)
        #expect(TelegramPacer.delay(sent: [50, 60], now: 100, rate: 3, window: 60) == 0)
        #expect(TelegramPacer.delay(sent: [50, 60, 70], now: 100, rate: 3, window: 60) == 10)
        #expect(TelegramPacer.delay(sent: [30, 60, 70, 80], now: 100, rate: 3, window: 60) == 20)
        #expect(TelegramPacer.delay(sent: [10, 20, 30], now: 100, rate: 3, window: 60) == 0)
    }
}
