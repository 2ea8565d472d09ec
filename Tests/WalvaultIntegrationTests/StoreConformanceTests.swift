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

// Every driver, the ones behind servers (moto, the Telegram stand-in) included.
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
