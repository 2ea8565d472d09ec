import Testing
import WalvaultConfig
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultArchive
@testable import WalvaultCatalog
@testable import WalvaultKit

/// archive-get's look-ahead (issue 16) over a real local store: what the worker leaves is exactly
/// the stored bytes, a segment damaged in the store is never handed over, another cluster's or
/// another timeline's files are never used, and a file changed on disk is caught.
@Suite struct PrefetchTests {
    static let identifier: UInt64 = 7_000_000_000_000_000_001

    struct Rig {
        let dir = TempDir()
        let store: String
        let pgdata: String
        let context: WalvaultContext
        var originals: [String: [UInt8]] = [:]

        init(segments: Int = 12, timeline: UInt32 = 1, prefetch: Int = 4) throws {
            store = dir.sub("store")
            pgdata = dir.sub("pgdata")
            var control = [UInt8](repeating: 0, count: 8192)
            withUnsafeBytes(of: PrefetchTests.identifier.littleEndian) { for (i, b) in $0.enumerated() { control[i] = b } }
            _ = dir.write("pgdata/global/pg_control", control)
            let settings = [StoreSettings(name: "local", kind: .local(path: store))]
            let config = WalvaultConfig(
                path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", spool: dir.sub("spool")),
                compression: CompressionSettings(algorithm: .zstd), stores: settings,
                performance: PerformanceSettings(prefetch: prefetch))
            context = WalvaultContext(config: config, stores: try settings.map { try WalvaultContext.makeStore($0) })
            for i in 1...segments {
                let name = WALSegmentName(timeline: timeline, segmentNumber: UInt64(i), segmentSize: 1 << 20)
                let bytes = makeSegment(name: name, seed: UInt64(i))
                originals[name.description] = bytes
                _ = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(name)", bytes))
            }
        }

        var spool: PrefetchSpool { PrefetchSpool.forRecovery(context, dataDirectory: pgdata)! }

        func prefetch(after segment: String) throws -> Int {
            try spool.request(segment)
            var worker = Prefetcher(context: context, spool: spool, systemIdentifier: PrefetchTests.identifier)
            worker.lingerSeconds = 0
            return try worker.run()
        }

        func ready() -> [String] {
            ((try? FileSystem.listDirectory(spool.directory)) ?? []).compactMap { PrefetchPlan.parse($0)?.segment }.sorted()
        }

        func get(_ segment: String) throws -> (ArchiveGetOutcome, [UInt8]) {
            var getter = ArchiveGet(context: context)
            getter.prefetch = spool
            var requests = 0
            getter.onPrefetchRequest = { requests += 1 }
            let destination = dir.sub("restore") + "/RECOVERYXLOG"
            let outcome = try getter.run(fileName: segment, destination: destination)
            return (outcome, (try? FileSystem.readSmallFile(destination, limit: 1 << 22)) ?? [])
        }

        func objectPath(_ segment: String) throws -> String {
            let directory = store + "/main/wal/" + String(segment.prefix(16))
            return directory + "/" + (try #require(try FileSystem.listDirectory(directory).first { $0.hasPrefix(segment + "-") }))
        }
    }

    @Test func theWorkerKeepsTheNextSegmentsReadyAndArchiveGetHandsThemOver() throws {
        let rig = try Rig()
        #expect(try rig.prefetch(after: "000000010000000000000002") == 4)
        #expect(rig.ready() == ["000000010000000000000003", "000000010000000000000004", "000000010000000000000005", "000000010000000000000006"])
        let (outcome, bytes) = try rig.get("000000010000000000000003")
        guard case .restored(let store, _, let size) = outcome else { Issue.record("not restored: \(outcome)"); return }
        #expect(store == "prefetch" && size == 1 << 20)
        #expect(bytes == rig.originals["000000010000000000000003"])
        // The request for 3 made 3 (handed over) and nothing else useless.
        #expect(rig.ready() == ["000000010000000000000004", "000000010000000000000005", "000000010000000000000006"])
    }

    @Test func theEndOfTheArchiveIsQuiet() throws {
        let rig = try Rig(segments: 5)
        #expect(try rig.prefetch(after: "000000010000000000000004") == 1)
        #expect(rig.ready() == ["000000010000000000000005"])
        let (outcome, _) = try rig.get("000000010000000000000006")
        #expect(outcome == .notArchived)
    }

    @Test func aSegmentDamagedInTheStoreIsNeverHandedOver() throws {
        let rig = try Rig()
        let path = try rig.objectPath("000000010000000000000004")
        var bytes = try FileSystem.readSmallFile(path, limit: 1 << 22)
        bytes[bytes.count / 2] ^= 0x55
        try FileSystem.remove(path)
        _ = rig.dir.write(String(path.dropFirst(rig.dir.path.count + 1)), bytes)
        _ = try rig.prefetch(after: "000000010000000000000002")
        #expect(!rig.ready().contains("000000010000000000000004"))
        #expect(rig.ready().contains("000000010000000000000005"))
        #expect(throws: ArchiveGetFailure.self) { _ = try rig.get("000000010000000000000004") }
    }

    @Test func aPrefetchedFileChangedOnDiskIsCaughtAndTheStoreServes() throws {
        let rig = try Rig()
        _ = try rig.prefetch(after: "000000010000000000000001")
        let name = try #require(try FileSystem.listDirectory(rig.spool.directory).first { $0.hasPrefix("000000010000000000000002-") })
        let path = Paths.join(rig.spool.directory, name)
        var bytes = try FileSystem.readSmallFile(path, limit: 1 << 22)
        bytes[100] ^= 1
        try FileSystem.writeAtomically(path, contents: bytes)
        let (outcome, got) = try rig.get("000000010000000000000002")
        guard case .restored(let store, _, _) = outcome else { Issue.record("not restored"); return }
        #expect(store == "local")
        #expect(got == rig.originals["000000010000000000000002"])
        #expect(!FileSystem.exists(path), "the changed file is removed")
    }

    /// A spool on another file system than pg_wal: the verified file is copied through a staged
    /// file (a rename cannot cross), and the spool's copy is removed.
    @Test func aSpoolOnAnotherFileSystemIsCopiedOver() throws {
        let rig = try Rig()
        _ = try #require(rig.dir.mountTmpfs("spool", bytes: 64 << 20))
        _ = try rig.prefetch(after: "000000010000000000000001")
        let name = try #require(try FileSystem.listDirectory(rig.spool.directory).first { $0.hasPrefix("000000010000000000000002-") })
        // Without the worker's note the file is hashed again before it is copied.
        try FileSystem.remove(Paths.join(rig.spool.directory, ".id-" + name))
        let (outcome, got) = try rig.get("000000010000000000000002")
        guard case .restored(let store, _, let size) = outcome else { Issue.record("not restored: \(outcome)"); return }
        #expect(store == "prefetch" && size == 1 << 20)
        #expect(got == rig.originals["000000010000000000000002"])
        #expect(!FileSystem.exists(Paths.join(rig.spool.directory, name)))
    }

    @Test func anotherClustersSpoolIsIgnored() throws {
        let rig = try Rig()
        // A spool of another system identifier holding a file with a valid-looking name for segment 2.
        let other = PrefetchSpool(spool: rig.context.config.cluster.spool!, cluster: "main", systemIdentifier: 42)
        try other.request("000000010000000000000001")
        let garbage = [UInt8](repeating: 7, count: 1 << 20)
        try FileSystem.writeAtomically(
            Paths.join(other.directory, PrefetchPlan.fileName(segment: "000000010000000000000002", sha256: SHA256Hasher.hex(of: garbage))),
            contents: garbage)
        let (outcome, got) = try rig.get("000000010000000000000002")
        guard case .restored(let store, _, _) = outcome else { Issue.record("not restored"); return }
        #expect(store == "local" && got == rig.originals["000000010000000000000002"])
        // And a worker for a cluster the stores do not hold fetches nothing.
        var stranger = Prefetcher(context: rig.context, spool: other, systemIdentifier: 42)
        stranger.lingerSeconds = 0
        #expect(try stranger.run() == 0)
    }

    @Test func aTimelineSwitchDropsTheOldTimelinesSegments() throws {
        var rig = try Rig(segments: 8)
        for i in 5...8 {
            let name = WALSegmentName(timeline: 2, segmentNumber: UInt64(i), segmentSize: 1 << 20)
            let bytes = makeSegment(name: name, seed: UInt64(100 + i))
            rig.originals[name.description] = bytes
            _ = try ArchivePush(context: rig.context).run(walPath: rig.dir.write("pg_wal/\(name)", bytes))
        }
        _ = try rig.prefetch(after: "000000010000000000000004")
        #expect(rig.ready().allSatisfy { $0.hasPrefix("00000001") } && rig.ready().count == 4)
        // Recovery follows timeline 2 from segment 5: timeline 1's look-ahead is never used, and goes.
        let (outcome, got) = try rig.get("000000020000000000000005")
        guard case .restored(let store, _, _) = outcome else { Issue.record("not restored"); return }
        #expect(store == "local" && got == rig.originals["000000020000000000000005"])
        #expect(rig.ready().isEmpty)
        _ = try rig.prefetch(after: "000000020000000000000005")
        #expect(rig.ready() == ["000000020000000000000006", "000000020000000000000007", "000000020000000000000008"])
        #expect(try rig.get("000000020000000000000006").1 == rig.originals["000000020000000000000006"])
    }

    @Test func aDeadWorkersTemporaryFileIsNeverHandedOverAndIsRemoved() throws {
        let rig = try Rig()
        try rig.spool.request("000000010000000000000001")
        let leftover = Paths.join(rig.spool.directory, ".tmp-000000010000000000000002-99999")
        try FileSystem.writeAtomically(leftover, contents: [1, 2, 3])
        let (outcome, _) = try rig.get("000000010000000000000002")
        guard case .restored(let store, _, _) = outcome else { Issue.record("not restored"); return }
        #expect(store == "local")
        _ = try rig.prefetch(after: "000000010000000000000002")
        #expect(!FileSystem.exists(leftover))
    }

    @Test func aNewRestoreOrTheEndOfRecoveryClearsTheSpool() throws {
        let rig = try Rig()
        _ = try rig.prefetch(after: "000000010000000000000001")
        #expect(!rig.ready().isEmpty)
        #expect(try rig.get("00000002.history").0 == .notArchived)
        #expect(!FileSystem.exists(rig.spool.directory))
    }
}

@Suite struct PrefetchPlanTests {
    let sha = String(repeating: "d", count: 64)

    @Test func namesParseOnlyAsSegmentAndChecksum() {
        #expect(PrefetchPlan.parse("000000010000000000000003-" + sha)! == ("000000010000000000000003", sha))
        #expect(PrefetchPlan.parse("000000010000000000000003-" + sha.uppercased()) == nil)
        #expect(PrefetchPlan.parse("00000001000000000000000g-" + sha) == nil)
        #expect(PrefetchPlan.parse(".tmp-000000010000000000000003-1") == nil)
        #expect(PrefetchPlan.parse("00000002.history") == nil)
    }

    @Test func staleIsOtherTimelinesAndWhatWasReplayed() {
        let names = [
            "000000010000000000000002-" + sha, "000000010000000000000003-" + sha, "000000010000000000000004-" + sha,
            "000000020000000000000004-" + sha, ".lock", ".wanted", ".tmp-000000010000000000000005-7", "junk"
        ]
        #expect(
            Set(PrefetchPlan.stale(names, requested: "000000010000000000000003")) == [
                "000000010000000000000002-" + sha, "000000020000000000000004-" + sha, "junk"
            ])
        #expect(
            Set(PrefetchPlan.stale(names, requested: "000000020000000000000004")) == Set(names.filter { $0.hasPrefix("00000001") || $0 == "junk" }))
    }

    @Test func targetsFollowTheTimelineAcrossLogBoundaries() {
        let last = WALSegmentName(timeline: 3, log: 0, segment: 0xFF)
        #expect(
            PrefetchPlan.targets(after: last, count: 2, segmentSize: 16 << 20).map(\.description) == [
                "000000030000000100000000", "000000030000000100000001"
            ])
        #expect(PrefetchPlan.targets(after: last, count: 0, segmentSize: 16 << 20).isEmpty)
    }
}

@Suite struct PerformanceConfigTests {
    @Test func prefetchIsReadAndChecked() throws {
        let head = "[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"\n"
        #expect(try ConfigLoader.parse(head, path: "/c.toml").performance == PerformanceSettings(prefetch: 8))
        #expect(try ConfigLoader.parse(head + "[performance]\nprefetch = 0\n", path: "/c.toml").performance.prefetch == 0)
        #expect(try ConfigLoader.parse(head + "[performance]\nprefetch = 32\n", path: "/c.toml").performance.prefetch == 32)
        #expect(try ConfigLoader.parse(head, path: "/c.toml").performance.restoreParallel == PerformanceSettings.cores)
        #expect(try ConfigLoader.parse(head + "[performance]\nrestore_parallel = 3\n", path: "/c.toml").performance.restoreParallel == 3)
        #expect(try ConfigLoader.parse(head + "[performance]\nbackup_parallel = 1\n", path: "/c.toml").performance.backupParallel == 1)
        for (text, key) in [
            ("prefetch = 65", "performance.prefetch"), ("prefetch = -1", "performance.prefetch"), ("push_ahead = 1", "performance.push_ahead"),
            ("restore_parallel = 0", "performance.restore_parallel"), ("restore_parallel = 33", "performance.restore_parallel"),
            ("backup_parallel = 0", "performance.backup_parallel"), ("backup_parallel = 33", "performance.backup_parallel")
        ] {
            do {
                _ = try ConfigLoader.parse(head + "[performance]\n" + text, path: "/c.toml")
                Issue.record("expected an error for \(text)")
            } catch let error as ConfigError {
                #expect(error.key == key)
            }
        }
    }
}
