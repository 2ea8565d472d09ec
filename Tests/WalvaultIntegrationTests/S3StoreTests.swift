import Dispatch
import Synchronization
import Testing
import WalvaultConfig
import WalvaultHTTP
import WalvaultKit
import WalvaultShipping
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultStores

#if canImport(Glibc)
    import Glibc
#endif

// Against moto, started by .ci/run (scripts/testing/s3-server.py): these need the server.
private func put(_ store: Store, _ directory: String, _ name: String, _ bytes: [UInt8], chunk: Int = 65536) throws -> CommitOutcome {
    let writer = try store.makeWriter(directory: directory)
    var offset = 0
    while offset < bytes.count {
        let n = min(chunk, bytes.count - offset)
        try bytes.withUnsafeBytes { try writer.write(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
        offset += n
    }
    return try writer.commit(name: name)
}

/// Against moto with signature checking on (scripts/testing/s3-server.py).
@Suite struct S3StoreTests {
    @Test(arguments: [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 << 20])
    func objectsOfEverySizeAroundTheReadWindowComeBackExactly(size: Int) throws {
        let store = try S3TestServer.get().store()
        let bytes = sampleBytes(size, seed: UInt64(size) + 7)
        guard case .stored(let object) = try put(store, "d", "o", bytes) else { Issue.record("not stored"); return }
        #expect(object.size == size)
        let back = try readObject(store, "d/o")
        #expect(back.count == size)
        #expect(back == bytes)
    }

    /// 12 MiB with 5 MiB parts: three parts from the spill file and the buffer; one object appears.
    @Test func largeObjectsGoUpAsMultipartAndAppearWhole() throws {
        let store = try S3TestServer.get().store(partSize: 5 << 20)
        let bytes = sampleBytes(12 << 20, seed: 3)
        guard case .stored(let object) = try put(store, "big", "segment", bytes, chunk: 1 << 20) else { Issue.record("not stored"); return }
        #expect(object.size == bytes.count)
        #expect(try readObject(store, "big/segment") == bytes)
        #expect(try store.list(directory: "big", namePrefix: "").map(\.name) == ["segment"])
        // The same name again, multipart: refused, the first kept.
        guard case .alreadyPresent(let existing) = try put(store, "big", "segment", sampleBytes(11 << 20, seed: 4), chunk: 1 << 20) else {
            Issue.record("a multipart upload replaced an object"); return
        }
        #expect(existing.first?.size == bytes.count)
        #expect(try readObject(store, "big/segment") == bytes)
    }

    /// Backblaze B2 has no conditional PUT: the driver looks first, and says it is not atomic.
    @Test func withoutConditionalPutTheDriverLooksFirst() throws {
        let store = try S3TestServer.get().store(conditionalCreate: .lookThenPut)
        #expect(!store.capabilities.contains(.atomicConditionalCreate))
        #expect(store.capabilities.contains(.listing))
        guard case .stored = try put(store, "d", "o", [1, 2, 3]) else { Issue.record("not stored"); return }
        guard case .alreadyPresent(let there) = try put(store, "d", "o", [9]) else { Issue.record("replaced"); return }
        #expect(there.first?.size == 3)
        #expect(try readObject(store, "d/o") == [1, 2, 3])
        #expect(try store.createSmall(key: "d/info", contents: [7]))
        #expect(try !store.createSmall(key: "d/info", contents: [8]))
        // Multipart too.
        let large = try S3TestServer.get().store(partSize: 5 << 20, conditionalCreate: .lookThenPut)
        _ = try put(large, "m", "x", sampleBytes(6 << 20, seed: 1), chunk: 1 << 20)
        guard case .alreadyPresent = try put(large, "m", "x", sampleBytes(6 << 20, seed: 2), chunk: 1 << 20) else { Issue.record("replaced"); return }
        #expect(try readObject(large, "m/x") == sampleBytes(6 << 20, seed: 1))
    }

    @Test func listingFollowsContinuationTokens() throws {
        let store = try S3TestServer.get().store(pageSize: 7)
        let names = (0..<23).map { "seg-" + String(1000 + $0).dropFirst() }
        for name in names { _ = try put(store, "wal", name, [1, 2]) }
        _ = try put(store, "wal/sub", "x", [1])
        #expect(try store.list(directory: "wal", namePrefix: "seg-").map(\.name) == names)
        #expect(try store.list(directory: "wal", namePrefix: "seg-01").map(\.name) == (10...19).map { "seg-" + String(1000 + $0).dropFirst() })
        #expect(try store.listSubdirectories(directory: "wal") == ["sub"])
    }

    /// Past S3's own page of 1,000 keys, with the service's default page size.
    @Test func listingPastAThousandKeys() throws {
        let store = try S3TestServer.get().store()
        let count = 1003
        let created = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for i in stride(from: worker, to: count, by: 8) where (try? put(store, "many", "k-\(10000 + i)", [UInt8(i & 0xff)])) != nil {
                created.add(1, ordering: .relaxed)
            }
        }
        #expect(created.load(ordering: .relaxed) == count)
        let listed = try store.list(directory: "many", namePrefix: "")
        #expect(listed.count == count)
        #expect(Set(listed.map(\.name)).count == count)
    }

    @Test func wrongSecretUnknownKeyAndMissingBucketAreOneClearLineWithoutSecrets() throws {
        let server = try S3TestServer.get()
        let marker = "SECRETMARKER-\(UInt32.random(in: 0..<UInt32.max))"
        let wrongSecret = server.store(name: "b2", secret: marker)
        let error1 = storeError { _ = try put(wrongSecret, "d", "o", [1]) }
        #expect(error1?.kind == .auth)
        #expect("\(error1!)".contains("SignatureDoesNotMatch"))
        #expect("\(error1!)".contains("store \"b2\""))
        #expect("\(error1!)".contains("secret_access_key"))
        let unknownKey = server.store(name: "b2", accessKeyID: "AKIAUNKNOWNKEY000000")
        let error2 = storeError { _ = try unknownKey.list(directory: "", namePrefix: "") }
        #expect(error2?.kind == .auth)
        #expect("\(error2!)".contains("InvalidAccessKeyId"))
        let noBucket = server.store(name: "b2", bucket: "no-such-bucket-\(UInt32.random(in: 0..<UInt32.max))")
        let error3 = storeError { _ = try noBucket.head(key: "x") }
        #expect("\(error3!)".contains("NoSuchBucket"))
        #expect(error3?.kind == .permanent)
        let error4 = storeError { _ = try put(noBucket, "d", "o", [1]) }
        #expect("\(error4!)".contains("NoSuchBucket"))
        // A key that may read but not write: denied, naming the bucket and what to grant.
        let readOnly = server.store(name: "b2", secret: server.readerSecretAccessKey, accessKeyID: server.readerAccessKeyID)
        #expect(try readOnly.list(directory: "", namePrefix: "").isEmpty)
        let error5 = storeError { _ = try put(readOnly, "d", "o", [1]) }
        #expect(error5?.kind == .auth)
        #expect("\(error5!)".contains("AccessDenied"))
        #expect("\(error5!)".contains("bucket \(server.bucket)"))
        for error in [error1, error2, error3, error4, error5].compactMap({ $0 }) {
            let text = "\(error)"
            #expect(!text.contains(marker))
            #expect(!text.contains(server.secretAccessKey))
            #expect(!text.contains(server.accessKeyID))
            #expect(!text.contains(server.readerSecretAccessKey) && !text.contains(server.readerAccessKeyID))
            #expect(!text.contains("Signature="))
            #expect(!text.contains("\n"))
        }
    }

    @Test func aReplacedObjectIsNotSplicedWhileRead() throws {
        let store = try S3TestServer.get().store(readWindow: 1 << 20)
        _ = try put(store, "d", "o", sampleBytes(3 << 20, seed: 1))
        let reader = try store.openReader(key: "d/o")
        // Someone else replaces it under walvault's key.
        try store.delete(key: "d/o")
        _ = try put(store, "d", "o", sampleBytes(3 << 20, seed: 2))
        var buffer = [UInt8](repeating: 0, count: 2 << 20)
        let error = storeError { _ = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) + reader.read(into: $0) } }
        #expect(error.map { "\($0)" }?.contains("replaced while it was being read") == true)
    }
}

/// What does not need a server.

/// Failures injected between walvault and the S3 server by a loopback proxy.
@Suite(.serialized) struct S3FaultTests {
    /// The multipart uploads in progress under a store's prefix (ListMultipartUploads).
    func uploadsInProgress(_ store: S3Store) throws -> Int {
        let answer = try store.send("GET", objectKey: nil, query: [("uploads", ""), ("prefix", store.addressing.prefix + "/")])
        #expect(answer.status == 200)
        return try XMLElement.parse(answer.body, what: "uploads").children("Upload").count
    }

    @Test func a500AndAResetMidUploadAreRetriedAndTheObjectIsWhole() throws {
        let proxy = try FaultProxy()
        let store = try proxy.store()
        let bytes = sampleBytes(3 << 20, seed: 11)
        try proxy.inject("500", "PUT")
        guard case .stored = try put(store, "wal", "a", bytes) else { Issue.record("not stored"); return }
        try proxy.inject("reset", "PUT")
        guard case .stored = try put(store, "wal", "b", bytes) else { Issue.record("not stored"); return }
        #expect(try proxy.injected() == 2)
        #expect(try readObject(store, "wal/a") == bytes)
        #expect(try readObject(store, "wal/b") == bytes)
        #expect(try store.list(directory: "wal", namePrefix: "").map(\.size) == [bytes.count, bytes.count])
    }

    @Test func aMultipartUploadSurvivesFailedPartsAndAnAbandonedOneLeavesNothing() throws {
        let proxy = try FaultProxy()
        let store = try proxy.store(partSize: 5 << 20)
        let bytes = sampleBytes(11 << 20, seed: 12)
        try proxy.inject("reset", "PUT", count: 2)
        guard case .stored = try put(store, "big", "one", bytes, chunk: 1 << 20) else { Issue.record("not stored"); return }
        #expect(try readObject(store, "big/one") == bytes)
        // Every attempt at every part fails: the commit fails, nothing is visible, no upload lingers.
        try proxy.inject("500", "PUT", count: 1000)
        #expect(throws: StoreError.self) { _ = try put(store, "big", "two", bytes, chunk: 1 << 20) }
        try proxy.inject("clear")
        #expect(try store.head(key: "big/two") == nil)
        #expect(try store.list(directory: "big", namePrefix: "").map(\.name) == ["one"])
        #expect(try uploadsInProgress(store) == 0)
    }

    /// Issue 24, item 11: a writer killed half-way leaves its multipart upload behind (billed);
    /// the sweep aborts those begun before the cut-off under the cluster, and nothing else.
    @Test func abandonedMultipartUploadsAreAbortedOnlyWhenOldAndOnlyUnderTheDirectory() throws {
        let store = try S3TestServer.get().store(partSize: 5 << 20)
        for key in ["main/wal/0000000100000000/a", "main/backup/L/part-1", "other/wal/b"] {
            let answer = try store.send("POST", objectKey: store.addressing.objectKey(key), query: [("uploads", "")], body: [])
            #expect(answer.status == 200)
        }
        #expect(try uploadsInProgress(store) == 3)
        // moto reports every upload as begun on 2010-11-10, so against it only "before now" is
        // tested; the age rule itself is below.
        let now = WallClock.nowMicros()
        #expect(try store.abortAbandonedUploads(under: "main", begunBefore: now) == 2)
        #expect(try uploadsInProgress(store) == 1)
        // Through the layers commands use, too.
        let wrapped: Store = UnencryptedStore(base: RetryingStore(base: store))
        #expect(try wrapped.abortAbandonedUploads(under: "other", begunBefore: now + 60_000_000) == 1)
        #expect(try uploadsInProgress(store) == 0)
    }

    /// `ship` sweeps every store it is configured with, once per run, under the cluster only.
    @Test func shipAbortsTheUploadsAKilledWriterLeft() throws {
        let dir = TempDir()
        let s3 = try S3TestServer.get().store(name: "cloud")
        for key in ["main/wal/0000000100000000/a", "another-cluster/wal/b"] {
            #expect(try s3.send("POST", objectKey: s3.addressing.objectKey(key), query: [("uploads", "")], body: []).status == 200)
        }
        let settings = [
            StoreSettings(name: "local", kind: .local(path: dir.sub("sync"))),
            StoreSettings(name: "cloud", kind: .local(path: dir.sub("unused")), mode: .async)
        ]
        let config = WalvaultConfig(
            path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", spool: dir.sub("spool")),
            compression: CompressionSettings(algorithm: .zstd), stores: settings)
        let context = WalvaultContext(config: config, stores: [try WalvaultContext.makeStore(settings[0]), RetryingStore(base: s3)])
        let report = try Ship(context: context).run()
        #expect(report.abortedUploads == 1)
        #expect(try uploadsInProgress(s3) == 1, "another cluster's upload is not this ship's")
    }

    @Test func onlyUploadsBegunBeforeTheCutOffAreAbandoned() {
        let now = WallClock.nowMicros()
        let dayAgo = now - 86_400_000_000
        #expect(S3Store.isAbandoned(initiated: "2010-11-10T20:48:33.000Z", before: dayAgo))
        let c = Array(UTCTime.compact(now - 3_600_000_000))  // YYYYMMDDTHHMMSSZ, an hour ago
        let hourAgo =
            String(c[0..<4]) + "-" + String(c[4..<6]) + "-" + String(c[6..<8]) + "T" + String(c[9..<11]) + ":" + String(c[11..<13]) + ":"
            + String(c[13..<15]) + ".000Z"
        #expect(!S3Store.isAbandoned(initiated: hourAgo, before: dayAgo))
        #expect(S3Store.isAbandoned(initiated: hourAgo, before: now))
        #expect(!S3Store.isAbandoned(initiated: nil, before: dayAgo))
        #expect(!S3Store.isAbandoned(initiated: "yesterday", before: dayAgo))
    }

    @Test func anUnreachableServiceIsATransientErrorNamingTheStore() throws {
        let proxy = try FaultProxy()
        let store = try proxy.store()
        try proxy.inject("refuse")
        defer { try? proxy.inject("clear") }
        let error = storeError { _ = try put(store, "wal", "x", [1, 2, 3]) }
        #expect(error?.kind == .transient)
        #expect(error.map { "\($0)" }?.contains("store \"s3\"") == true)
        let listing = storeError { _ = try store.list(directory: "wal", namePrefix: "") }
        #expect(listing?.kind == .transient)
    }
}
