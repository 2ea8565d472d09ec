#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import Testing
import WalvaultCatalog
@testable import WalvaultCommands
import WalvaultConfig
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTestHelpers

/// What every store driver must do, run against each of them: the in-library MemoryStore with
/// and without listing, LocalStore, and (as they come) the S3 and Telegram drivers.
enum Driver: String, CaseIterable, CustomTestStringConvertible {
    case local, memory, memoryWithoutListing, memoryWithCatalog, s3, telegram

    var testDescription: String { rawValue }

    /// A fresh store, and whatever must live as long as it (the temporary directory).
    func make() throws -> (store: Store, keepAlive: AnyObject?) {
        switch self {
        case .local:
            let dir = TempDir()
            return (LocalStore(name: "local", root: dir.sub("store")), dir)
        case .memory: return (MemoryStore(name: "memory"), nil)
        case .memoryWithoutListing: return (MemoryStore(name: "nolist", listing: false), nil)
        // A store that cannot list, given listings by walvault's own catalog.
        case .memoryWithCatalog: return (CatalogingStore(base: MemoryStore(name: "catalog", listing: false)), nil)
        // moto, checking signatures, on loopback; small parts so that multipart is exercised.
        case .s3: return (try S3TestServer.get().store(), nil)
        // The Bot API stand-in, one chat per store; small documents so objects span several.
        case .telegram:
            let standIn = try TelegramStandIn()
            let dir = TempDir()
            return (telegramStore(standIn, workDirectory: dir.sub("work"), partSize: 256 << 10), KeepAlive([standIn, dir]))
        }
    }
}

final class KeepAlive {
    let objects: [AnyObject]
    init(_ objects: [AnyObject]) { self.objects = objects }
}

private func write(_ store: Store, _ directory: String, _ name: String, _ bytes: [UInt8]) throws -> CommitOutcome {
    let writer = try store.makeWriter(directory: directory)
    // In uneven pieces, as a pipeline delivers them.
    var offset = 0
    var piece = 1
    while offset < bytes.count {
        let n = min(piece, bytes.count - offset)
        try bytes.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
        offset += n
        piece = piece * 3 + 1
    }
    return try writer.commit(name: name)
}

private func readAll(_ store: Store, _ key: String) throws -> [UInt8] {
    let reader = try store.openReader(key: key)
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 7)
    while true {
        let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
        if n == 0 { return out }
        out += buffer[0..<n]
    }
}

private func storeErrorKind(_ body: () throws -> Void) -> StoreError.Kind? {
    do { try body() } catch let error as StoreError { return error.kind } catch { Issue.record("not a StoreError: \(error)") }
    return nil
}

@Suite struct StoreConformanceTests {
    @Test(arguments: Driver.allCases)
    func writtenBytesReadBackExactly(driver: Driver) throws {
        let (store, keep) = try driver.make()
        defer { _ = keep }
        for size in [0, 1, 1000, 100_000] {
            let bytes = sampleBytes(size, seed: UInt64(size))
            guard case .stored(let object) = try write(store, "main/wal", "obj-\(size)", bytes) else { Issue.record("not stored"); continue }
            #expect(object.key == "main/wal/obj-\(size)")
            #expect(object.size == size)
            #expect(try readAll(store, object.key) == bytes)
            #expect(try store.head(key: object.key)?.size == size)
        }
    }

    @Test(arguments: Driver.allCases)
    func createUnlessExistsNeverReplaces(driver: Driver) throws {
        let (store, keep) = try driver.make()
        defer { _ = keep }
        _ = try write(store, "d", "x", [1, 2, 3])
        guard case .alreadyPresent(let existing) = try write(store, "d", "x", [9, 9]) else { Issue.record("replaced"); return }
        #expect(existing.map(\.key) == ["d/x"])
        #expect(try readAll(store, "d/x") == [1, 2, 3])
        // Only the exact key conflicts: `archive.info.copy` does not make `archive.info` present.
        _ = try write(store, "w", "info.copy", [1])
        guard case .stored = try write(store, "w", "info", [2]) else { Issue.record("a prefix conflicted in the driver"); return }
        // createSmall: the same rule for small objects.
        #expect(try store.createSmall(key: "d/info", contents: [7]))
        #expect(try !store.createSmall(key: "d/info", contents: [8]))
        #expect(try store.readSmall(key: "d/info") == [7])
        #expect(try store.readSmall(key: "d/none") == nil)
    }

    /// Many writers race for one name: exactly one wins, everyone else is told it exists.
    @Test(arguments: Driver.allCases)
    func concurrentCreatesHaveExactlyOneWinner(driver: Driver) throws {
        let (store, keep) = try driver.make()
        defer { _ = keep }
        let stored = Atomic<Int>(0)
        let present = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            switch try? write(store, "race", "target", [UInt8(i)]) {
            case .stored?: stored.add(1, ordering: .relaxed)
            case .alreadyPresent?: present.add(1, ordering: .relaxed)
            case nil: break
            }
        }
        #expect(stored.load(ordering: .relaxed) == 1)
        #expect(present.load(ordering: .relaxed) == 15)
        #expect(try readAll(store, "race/target").count == 1)
    }

    @Test(arguments: Driver.allCases)
    func nothingIsVisibleBeforeCommitOrAfterAbort(driver: Driver) throws {
        let (store, keep) = try driver.make()
        defer { _ = keep }
        let writer = try store.makeWriter(directory: "p")
        try [UInt8](repeating: 5, count: 4096).withUnsafeBytes { try writer.write($0) }
        #expect(try store.head(key: "p/late") == nil)
        if store.capabilities.contains(.listing) { #expect(try store.list(directory: "p", namePrefix: "").isEmpty) }
        writer.abort()
        #expect(throws: StoreError.self) { _ = try writer.commit(name: "late") }
        #expect(try store.head(key: "p/late") == nil)
        if store.capabilities.contains(.listing) { #expect(try store.list(directory: "p", namePrefix: "").isEmpty) }
    }

    @Test(arguments: Driver.allCases)
    func deleteRemovesAndIsIdempotent(driver: Driver) throws {
        let (store, keep) = try driver.make()
        defer { _ = keep }
        #expect(store.capabilities.contains(.deletion))
        _ = try write(store, "b/L", "part-1", [1])
        _ = try write(store, "b/L", "part-2", [2])
        try store.delete(key: "b/L/part-1")
        try store.delete(key: "b/L/part-1")
        #expect(try store.head(key: "b/L/part-1") == nil)
        #expect(try store.head(key: "b/L/part-2") != nil)
        // After a delete the name is free again.
        guard case .stored = try write(store, "b/L", "part-1", [3]) else { Issue.record("not free"); return }
        #expect(try readAll(store, "b/L/part-1") == [3])
    }

    @Test(arguments: Driver.allCases)
    func listingIsByDirectoryAndPrefixOrRefusedPlainly(driver: Driver) throws {
        let (store, keep) = try driver.make()
        defer { _ = keep }
        for name in ["a-2", "a-1", "b-1"] { _ = try write(store, "main/wal/0000000100000000", name, [1]) }
        _ = try write(store, "main/wal", "00000002.history-x", [1])
        _ = try write(store, "main/backup/L1", "part", [1])
        _ = try write(store, "main/backup/L2", "part", [1])
        guard store.capabilities.contains(.listing) else {
            #expect(storeErrorKind { _ = try store.list(directory: "main/wal", namePrefix: "") } == .permanent)
            #expect(storeErrorKind { _ = try store.listSubdirectories(directory: "main/backup") } == .permanent)
            // What a catalog needs still works: head by exact key.
            #expect(try store.head(key: "main/wal/0000000100000000/a-1") != nil)
            return
        }
        #expect(try store.list(directory: "main/wal/0000000100000000", namePrefix: "a-").map(\.name) == ["a-1", "a-2"])
        #expect(try store.list(directory: "main/wal", namePrefix: "").map(\.name) == ["00000002.history-x"])
        #expect(try store.listSubdirectories(directory: "main/backup") == ["L1", "L2"])
        #expect(try store.listSubdirectories(directory: "main") == ["backup", "wal"])
        #expect(try store.list(directory: "nowhere", namePrefix: "").isEmpty)
    }

    @Test(arguments: Driver.allCases)
    func errorKindsAreMachineReadable(driver: Driver) throws {
        let (store, keep) = try driver.make()
        defer { _ = keep }
        #expect(storeErrorKind { _ = try store.openReader(key: "no/such/object") } == .notFound)
        #expect(try store.head(key: "no/such/object") == nil)
        let error = StoreError(store: "s", kind: .transient, problem: "timed out", fix: "retry later")
        #expect(error.description == "store \"s\": timed out; retry later")
    }

    /// errno to kind, for the drivers built on system calls.
    @Test func systemErrorsMapToKinds() {
        #expect(StoreError(store: "s", SystemError("open", path: "/x", code: ENOENT)).kind == .notFound)
        #expect(StoreError(store: "s", SystemError("open", path: "/x", code: EACCES)).kind == .auth)
        #expect(StoreError(store: "s", SystemError("open", path: "/x", code: EEXIST)).kind == .conflict)
        #expect(StoreError(store: "s", SystemError("read", path: "/x", code: EINTR)).kind == .transient)
        #expect(StoreError(store: "s", SystemError("write", path: "/x", code: ENOSPC)).kind == .permanent)
    }
}

/// A store that fails its first `failures` calls with the given kind, to test the retry policy.
final class FlakyStore: StoreWrapper, @unchecked Sendable {
    let base: Store
    let kind: StoreError.Kind
    let remaining: Mutex<Int>
    let calls = Atomic<Int>(0)

    init(base: Store, failures: Int, kind: StoreError.Kind) {
        self.base = base
        self.kind = kind
        remaining = Mutex(failures)
    }

    func failMaybe() throws {
        calls.add(1, ordering: .relaxed)
        let fail = remaining.withLock { n -> Bool in
            guard n > 0 else { return false }
            n -= 1
            return true
        }
        if fail { throw StoreError(store: name, kind: kind, problem: "injected \(kind)", fix: nil) }
    }

    func list(directory: String, namePrefix: String) throws -> [StoreObject] {
        try failMaybe()
        return try base.list(directory: directory, namePrefix: namePrefix)
    }

    func openReader(key: String) throws -> ObjectReader {
        try failMaybe()
        return try base.openReader(key: key)
    }

    func makeWriter(directory: String) throws -> ObjectWriter { try base.makeWriter(directory: directory) }
    func readSmall(key: String) throws -> [UInt8]? {
        try failMaybe()
        return try base.readSmall(key: key)
    }
    func createSmall(key: String, contents: [UInt8]) throws -> Bool { try base.createSmall(key: key, contents: contents) }
}

@Suite struct RetryingStoreTests {
    @Test func transientFailuresAreRetriedWithBoundedJitteredBackOff() throws {
        let memory = MemoryStore(name: "m")
        _ = try memory.createSmall(key: "k", contents: [1])
        let flaky = FlakyStore(base: memory, failures: 2, kind: .transient)
        let waits = Mutex<[Int]>([])
        let retrying = RetryingStore(base: flaky, policy: .init(attempts: 4, baseDelayMicros: 1000, maxDelayMicros: 1500)) { us in
            waits.withLock { $0.append(us) }
        }
        #expect(try retrying.readSmall(key: "k") == [1])
        #expect(flaky.calls.load(ordering: .relaxed) == 3)
        let slept = waits.withLock { $0 }
        #expect(slept.count == 2)
        #expect(slept[0] <= 1000 && slept[1] <= 1500)
    }

    @Test(arguments: [StoreError.Kind.notFound, .conflict, .permanent, .auth])
    func otherKindsFailAtOnce(kind: StoreError.Kind) throws {
        let flaky = FlakyStore(base: MemoryStore(name: "m"), failures: 1, kind: kind)
        let retrying = RetryingStore(base: flaky) { _ in Issue.record("must not wait for \(kind)") }
        #expect(storeErrorKind { _ = try retrying.list(directory: "", namePrefix: "") } == kind)
        #expect(flaky.calls.load(ordering: .relaxed) == 1)
    }

    @Test func givesUpAfterTheLastAttempt() throws {
        let flaky = FlakyStore(base: MemoryStore(name: "m"), failures: 10, kind: .transient)
        let retrying = RetryingStore(base: flaky, policy: .init(attempts: 3)) { _ in }
        #expect(storeErrorKind { _ = try retrying.openReader(key: "k") } == .transient)
        #expect(flaky.calls.load(ordering: .relaxed) == 3)
    }

    @Test func theDelayCeilingDoublesUpToTheMaximum() {
        let policy = RetryingStore.Policy(attempts: 10, baseDelayMicros: 100, maxDelayMicros: 1000)
        #expect((1...6).map { policy.delay(beforeRetry: $0) { $0 - 1 } } == [100, 200, 400, 800, 1000, 1000])
    }
}

/// The one-content-per-name policy, above the drivers.
@Suite struct ObjectPlacementTests {
    static let directory = "main/wal/0000000100000000"

    func name(sha: Character, at: Int64) -> String {
        StoredObjectName(originalName: "000000010000000000000003", sha256: String(repeating: sha, count: 64), compression: .zstd, archivedAt: at).description
    }

    func place(_ store: Store, _ name: String) throws -> CommitOutcome {
        let writer = try store.makeWriter(directory: Self.directory)
        try [UInt8(1)].withUnsafeBytes { try writer.write($0) }
        return try ObjectPlacement.commit(writer, store: store, directory: Self.directory, name: name, unlessPrefixTaken: "000000010000000000000003-")
    }

    @Test(arguments: [Driver.local, .memory, .memoryWithCatalog])
    func aTakenNameWritesNothing(driver: Driver) throws {
        let (store, keep) = try driver.make()
        defer { _ = keep }
        let first = name(sha: "a", at: 1_000_000)
        guard case .stored = try place(store, first) else { Issue.record("not stored"); return }
        guard case .alreadyPresent(let there) = try place(store, name(sha: "b", at: 2_000_000)) else { Issue.record("stored twice"); return }
        #expect(there.map(\.name) == [first])
        #expect(try store.list(directory: Self.directory, namePrefix: "").map(\.name) == [first])
    }

    /// Writers racing with different content: whatever was reported stored is still there, no
    /// two contents were both reported stored, and no conflicting copy is left behind.
    @Test(arguments: [Driver.local, .memory, .memoryWithCatalog])
    func racingContentsNeverBothSucceed(driver: Driver) throws {
        let (store, keep) = try driver.make()
        defer { _ = keep }
        let shas = Array("0123456789abcdef")
        let reported = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: shas.count) { i in
            let mine = name(sha: shas[i], at: Int64(i + 1) * 1_000_000)
            if case .stored? = try? place(store, mine) { reported.withLock { $0.append(mine) } }
        }
        let left = try store.list(directory: Self.directory, namePrefix: "").map(\.name)
        let stored = reported.withLock { $0 }
        #expect(stored.count <= 1)
        #expect(Set(left) == Set(stored), "left \(left), reported \(stored)")
    }

    /// Writers racing with the same content (PostgreSQL re-sending a file): every one succeeds
    /// or finds its content there, and at least one copy stays.
    @Test(arguments: [Driver.local, .memory, .memoryWithCatalog])
    func racingIdenticalContentAllSucceed(driver: Driver) throws {
        let (store, keep) = try driver.make()
        defer { _ = keep }
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 12) { i in
            switch try? place(store, name(sha: "e", at: Int64(i + 1) * 1_000_000)) {
            case .stored?: break
            case .alreadyPresent(let there)?:
                if !there.allSatisfy({ StoredObjectName($0.name)?.sha256 == String(repeating: "e", count: 64) }) { failures.add(1, ordering: .relaxed) }
            case nil: failures.add(1, ordering: .relaxed)
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(try !store.list(directory: Self.directory, namePrefix: "").isEmpty)
    }
}

/// Objects larger than a store's limit, split by the repository for any driver.
@Suite struct SplittingStoreTests {
    static let limit = 64 * 1024

    @Test(arguments: [0, 100, limit, limit + 1, 3 * limit, 1 << 20])
    func objectsOfEverySizeRoundTripWithinTheLimit(size: Int) throws {
        let driver = MemoryStore(name: "tg", listing: true, maxObjectSize: Self.limit)
        let store = SplittingStore.wrapping(driver)
        let bytes = sampleBytes(size, seed: UInt64(size) + 1)
        let writer = try store.makeWriter(directory: "main/wal/0000000100000000")
        // Uneven writes, as the pipeline delivers them.
        var offset = 0
        while offset < bytes.count {
            let n = min(offset % 3 == 0 ? 40_000 : 70_001, bytes.count - offset)
            try bytes.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
            offset += n
        }
        guard case .stored = try writer.commit(name: "obj") else { Issue.record("not stored"); return }
        #expect(try readAll(store, "main/wal/0000000100000000/obj") == bytes)
        // What the driver holds: no object over its limit, and one visible name.
        #expect(try store.list(directory: "main/wal/0000000100000000", namePrefix: "").map(\.name) == ["obj"])
        let pieces = try driver.listSubdirectories(directory: "main/wal/0000000100000000")
        #expect(pieces.isEmpty, "staging is hidden from listings")
        #expect(driver.keys().allSatisfy { (try? driver.head(key: $0))??.size ?? 0 <= Self.limit })
        #expect(driver.keys().count == (size <= Self.limit ? 1 : 1 + (size + Self.limit - 1) / Self.limit))
        // Delete takes the pieces too.
        try store.delete(key: "main/wal/0000000100000000/obj")
        #expect(driver.keys().isEmpty)
    }

    @Test func abortAndConflictLeaveNoPieces() throws {
        let driver = MemoryStore(name: "tg", maxObjectSize: Self.limit)
        let store = SplittingStore.wrapping(driver)
        let big = sampleBytes(4 * Self.limit, seed: 9)
        let aborted = try store.makeWriter(directory: "d")
        try big.withUnsafeBytes { try aborted.write($0) }
        aborted.abort()
        #expect(driver.keys().isEmpty)
        _ = try store.createSmall(key: "d/x", contents: [1])
        let second = try store.makeWriter(directory: "d")
        try big.withUnsafeBytes { try second.write($0) }
        guard case .alreadyPresent = try second.commit(name: "x") else { Issue.record("replaced"); return }
        #expect(driver.keys() == ["d/x"])
        #expect(try readAll(store, "d/x") == [1])
    }

    @Test func aMissingOrShortPieceIsAnErrorNotAShortObject() throws {
        let driver = MemoryStore(name: "tg", maxObjectSize: Self.limit)
        let store = SplittingStore.wrapping(driver)
        let writer = try store.makeWriter(directory: "d")
        try sampleBytes(3 * Self.limit, seed: 4).withUnsafeBytes { try writer.write($0) }
        _ = try writer.commit(name: "x")
        let piece = try #require(driver.keys().first { $0.contains(".split/") && $0.hasSuffix(".2") })
        try driver.delete(key: piece)
        #expect(throws: StoreError.self) { _ = try readAll(store, "d/x") }
        _ = try driver.createSmall(key: piece, contents: [1, 2, 3])
        #expect(throws: StoreError.self) { _ = try readAll(store, "d/x") }
    }

    /// The whole way: a WAL segment larger than the store's limit, encrypted, pushed and fetched.
    @Test(arguments: [false, true])
    func aSegmentLargerThanTheStoresLimitIsArchivedAndRestored(encrypted: Bool) throws {
        let dir = TempDir()
        let driver = MemoryStore(name: "tg", maxObjectSize: Self.limit)
        let config = WalvaultConfig(path: "/test/walvault.toml", cluster: ClusterSettings(name: "main"),
                                    compression: CompressionSettings(algorithm: .none), stores: [StoreSettings(name: "tg", kind: .local(path: "/unused"))])
        let context = WalvaultContext(config: config, stores: [SplittingStore.wrapping(driver)], keyRing: encrypted ? makeKeyRing() : nil)
        let name = WALSegmentName(timeline: 1, segmentNumber: 3, segmentSize: 1 << 20)
        let bytes = makeSegment(name: name)
        let result = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(name)", bytes))
        #expect(result.stored.count == 1)
        #expect(driver.keys().allSatisfy { (try? driver.head(key: $0))??.size ?? 0 <= Self.limit })
        var getter = ArchiveGet(context: context)
        let destination = Paths.join(dir.path, "RECOVERYXLOG")
        #expect(try getter.run(fileName: name.description, destination: destination) == .restored(store: "tg", object: result.stored[0].object, size: bytes.count))
        #expect(read(destination) == bytes)
    }
}


@Suite struct StoreCatalogTests {
    @Test func theNewestGenerationIsFoundWithHeadAlone() throws {
        let store = MemoryStore(name: "m", listing: false)
        let catalog = StoreCatalog(store: store)
        #expect(try catalog.newestGeneration() == 0)
        for n in 1...150 { #expect(try catalog.record(put: [StoreObject(key: "k/\(n)", size: n)]) == UInt64(n)) }
        #expect(try catalog.newestGeneration() == 150)
        #expect(try catalog.newestGeneration(from: 40) == 150)
        #expect(try catalog.newestGeneration(from: 400) == 150)
    }

    /// Past two snapshots, with deletions on both sides of them: the state is exact.
    @Test func snapshotsAndDeltasGiveTheExactState() throws {
        let store = MemoryStore(name: "m", listing: false)
        let catalog = StoreCatalog(store: store)
        var expected: [String: StoreObject] = [:]
        for n in 1...140 {
            let object = StoreObject(key: "main/wal/\(n)", size: n, modifiedAt: Int64(n))
            if n % 7 == 0 {
                let gone = "main/wal/\(n - 3)"
                try catalog.record(put: [object], delete: [gone])
                expected.removeValue(forKey: gone)
            } else {
                try catalog.record(put: [object])
            }
            expected[object.key] = object
        }
        #expect(try catalog.objects() == expected)
        // Generation 128 is a snapshot: the state is read from it and the twelve after it alone
        // (the older ones are made unreadable, and nothing fails).
        for generation in UInt64(1)...127 {
            try store.delete(key: StoreCatalog.key(generation))
            _ = try store.createSmall(key: StoreCatalog.key(generation), contents: Array("garbage".utf8))
        }
        #expect(try catalog.objects() == expected)
    }

    @Test func concurrentWritersAllLand() throws {
        let store = MemoryStore(name: "m", listing: false)
        DispatchQueue.concurrentPerform(iterations: 24) { i in
            _ = try? StoreCatalog(store: store).record(put: [StoreObject(key: "k/\(i)", size: i)])
        }
        #expect(try StoreCatalog(store: store).objects().count == 24)
    }

    @Test func aDamagedGenerationIsAPlainError() throws {
        let store = MemoryStore(name: "m", listing: false)
        let catalog = StoreCatalog(store: store)
        try catalog.record(put: [StoreObject(key: "a", size: 1)])
        try store.delete(key: StoreCatalog.key(1))
        _ = try store.createSmall(key: StoreCatalog.key(1), contents: Array("not a catalog".utf8))
        do {
            _ = try catalog.objects()
            Issue.record("expected an error")
        } catch let error as StoreError {
            #expect(error.problem == "catalog generation catalog/0000000000000001 is not a walvault catalog")
        }
    }

    /// The same store read through its listing and through walvault's catalog of it: the
    /// inventory every command uses is the same.
    @Test func theInventoryIsTheSameFromAListingAndFromTheCatalog() throws {
        let dir = TempDir()
        let raw = MemoryStore(name: "m")
        let cataloged = CatalogingStore(base: raw)
        let config = WalvaultConfig(path: "/test/walvault.toml", cluster: ClusterSettings(name: "main"),
                                    compression: CompressionSettings(algorithm: .zstd), stores: [StoreSettings(name: "m", kind: .local(path: "/unused"))])
        let context = WalvaultContext(config: config, stores: [cataloged])
        for n in UInt64(2)...5 {
            let name = WALSegmentName(timeline: 1, segmentNumber: n, segmentSize: 1 << 20)
            _ = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(name)", makeSegment(name: name, seed: n)))
        }
        _ = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/00000002.history", Array("1\t0/400000\tx\n".utf8)))
        let layout = ArchiveLayout(cluster: "main")
        let packer = BackupPacker(stores: context.stores, directory: layout.backupDirectory("L1"), compression: config.compression, partSize: 1000)
        let entry = try #require(try packer.add(path: dir.write("data/PG_VERSION", Array("15\n".utf8)), relative: "PG_VERSION", mode: 0o600))
        try packer.finish()
        let manifest = BackupManifest(label: "L1", cluster: "main", systemIdentifier: "1", postgresVersion: 150000, walSegmentSize: 1 << 20,
                                      timeline: 1, startLSN: LSN(UInt64(2) << 20), stopLSN: LSN((UInt64(2) << 20) + 100), startTime: 1, stopTime: 2,
                                      walvaultVersion: "test", compression: "zstd", backupLabel: "", tablespaceMap: nil,
                                      tablespaces: [], parts: packer.parts, entries: [entry])
        _ = try context.stores[0].createSmall(key: layout.manifestKey("L1"), contents: try manifest.encoded())
        _ = try context.stores[0].createSmall(key: "main/backup/L2/part-000001-\(String(repeating: "a", count: 64)).zst", contents: [1])

        let fromListing = try Inventory.read(stores: [UnencryptedStore(base: raw)], layout: layout)
        let fromCatalog = try Inventory.read(stores: [UnencryptedStore(base: cataloged)], layout: layout)
        #expect(fromListing.backups == fromCatalog.backups)
        #expect(fromListing.backups.map(\.label) == ["L1"])
        #expect(fromListing.segments == fromCatalog.segments)
        #expect(fromListing.segments.count == 4)
        #expect(fromListing.histories == fromCatalog.histories)
        #expect(fromListing.histories.keys.sorted() == [2])
        #expect(fromListing.incompleteBackups == fromCatalog.incompleteBackups)
        #expect(fromListing.incompleteBackups == ["L2"])
        #expect(fromListing.segmentsTimedByStore.isEmpty && fromCatalog.segmentsTimedByStore.isEmpty)
    }
}

/// A store that lists nothing and deletes nothing, behind the wrappers every command uses.
final class BareStore: StoreWrapper, @unchecked Sendable {
    let base: Store
    init(base: Store) { self.base = base }
    var capabilities: StoreCapabilities { [] }
    func openReader(key: String) throws -> ObjectReader { try base.openReader(key: key) }
    func makeWriter(directory: String) throws -> ObjectWriter { try base.makeWriter(directory: directory) }
    func readSmall(key: String) throws -> [UInt8]? { try base.readSmall(key: key) }
    func createSmall(key: String, contents: [UInt8]) throws -> Bool { try base.createSmall(key: key, contents: contents) }
}

@Suite struct CapabilityTests {
    @Test func theGenericLayerRefusesWhatAStoreCannotDo() throws {
        let memory = MemoryStore(name: "m")
        _ = try memory.createSmall(key: "d/x", contents: [1])
        let wrapped = UnencryptedStore(base: BareStore(base: memory))
        for body in [{ _ = try wrapped.list(directory: "d", namePrefix: "") }, { _ = try wrapped.listSubdirectories(directory: "") },
                     { try wrapped.delete(key: "d/x") }] as [() throws -> Void] {
            do {
                try body()
                Issue.record("expected a refusal")
            } catch let error as StoreError {
                #expect(error.kind == .permanent)
                #expect(error.problem.hasPrefix("this store cannot"))
            }
        }
        #expect(try memory.head(key: "d/x") != nil, "nothing was deleted")
        // What it can do still works.
        #expect(try wrapped.readSmall(key: "d/x") == [1])
        // And with walvault's catalog it lists.
        #expect(CatalogingStore.wrapping(BareStore(base: memory)) is CatalogingStore)
    }
}

@Suite struct LayeringTests {
    /// Every driver gets the same layers: a limit-free store that lists needs only the retries.
    @Test func everyDriverGetsRetriesAndWhatItLacks() {
        #expect(WalvaultContext.layered(MemoryStore(name: "m")) is RetryingStore)
        #expect((WalvaultContext.layered(MemoryStore(name: "m", maxObjectSize: 1000)) as? SplittingStore)?.base is RetryingStore)
        let telegramLike = WalvaultContext.layered(MemoryStore(name: "t", listing: false, maxObjectSize: 1000))
        #expect(((telegramLike as? CatalogingStore)?.base as? SplittingStore)?.base is RetryingStore)
    }

    /// kill -9 between a piece and the index: what is left is never an object anyone lists.
    @Test func piecesLeftByACrashAreNeverListed() throws {
        let driver = MemoryStore(name: "t", listing: false, maxObjectSize: 1000)
        let store = WalvaultContext.layered(driver)
        _ = try store.createSmall(key: "main/wal/0000000100000000/kept", contents: [1])
        // What a writer killed after two pieces leaves: staged pieces, no index, no catalog entry.
        _ = try driver.createSmall(key: "main/wal/0000000100000000/.split/0123456789ab.1", contents: [UInt8](repeating: 7, count: 1000))
        _ = try driver.createSmall(key: "main/wal/0000000100000000/.split/0123456789ab.2", contents: [UInt8](repeating: 7, count: 1000))
        #expect(try store.list(directory: "main/wal/0000000100000000", namePrefix: "").map(\.name) == ["kept"])
        #expect(try store.listSubdirectories(directory: "main/wal/0000000100000000").isEmpty)
    }
}
