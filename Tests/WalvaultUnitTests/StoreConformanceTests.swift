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

#if canImport(Glibc)
    import Glibc
#endif

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
        StoredObjectName(originalName: "000000010000000000000003", sha256: String(repeating: sha, count: 64), compression: .zstd, archivedAt: at)
            .description
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
                if !there.allSatisfy({ StoredObjectName($0.name)?.sha256 == String(repeating: "e", count: 64) }) {
                    failures.add(1, ordering: .relaxed)
                }
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
        for body in [
            { _ = try wrapped.list(directory: "d", namePrefix: "") }, { _ = try wrapped.listSubdirectories(directory: "") },
            { try wrapped.delete(key: "d/x") }
        ] as [() throws -> Void] {
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
