#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import Testing
import WalvaultCatalog
import WalvaultConfig
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting
@testable import WalvaultKit

/// What every store driver must do, run against each of them: the in-library MemoryStore with
/// and without listing, LocalStore, and (as they come) the S3 and Telegram drivers.
enum Driver: String, CaseIterable, CustomTestStringConvertible {
    case local, memory, memoryWithoutListing, s3, telegram

    var testDescription: String { rawValue }

    /// A fresh store, and whatever must live as long as it (the temporary directory).
    func make() throws -> (store: Store, keepAlive: AnyObject?) {
        switch self {
        case .local:
            let dir = TempDir()
            return (LocalStore(name: "local", root: dir.sub("store")), dir)
        case .memory: return (MemoryStore(name: "memory"), nil)
        case .memoryWithoutListing: return (MemoryStore(name: "nolist", listing: false), nil)
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

    @Test(arguments: [Driver.local, .memory])
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
    @Test(arguments: [Driver.local, .memory])
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
    @Test(arguments: [Driver.local, .memory])
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
    }
}

@Suite struct LayeringTests {
    /// Every driver gets the same layer: the retries.
    @Test func everyDriverGetsRetries() {
        #expect(WalvaultContext.layered(MemoryStore(name: "m")) is RetryingStore)
        #expect(WalvaultContext.layered(MemoryStore(name: "t", listing: false, maxObjectSize: 1000)) is RetryingStore)
    }
}
