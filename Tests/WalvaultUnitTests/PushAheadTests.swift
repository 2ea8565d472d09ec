import Synchronization
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

#if canImport(Glibc)
    import Glibc
#endif

final class WorkerCount: Sendable {
    let value = Mutex(0)
}

/// Push-ahead (issue 16) over a real local store and a pg_wal with archive_status: segments
/// pushed ahead are in the store before their status entry exists, PostgreSQL's later call is
/// confirmed from the entry, and anything that does not match is pushed (or refused) as always.
@Suite struct PushAheadTests {
    struct Rig {
        let dir = TempDir()
        let store: String
        let pgWAL: String
        let context: WalvaultContext
        var names: [String] = []
        private let started = WorkerCount()
        var workersStarted: Int { started.value.withLock { $0 } }

        init(segments: Int = 10, parallel: Int = 2) {
            store = dir.sub("store")
            pgWAL = dir.sub("pgdata/pg_wal")
            _ = dir.sub("pgdata/pg_wal/archive_status")
            let settings = [StoreSettings(name: "local", kind: .local(path: store))]
            let config = WalvaultConfig(
                path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", spool: dir.sub("spool")),
                compression: CompressionSettings(algorithm: .zstd), stores: settings,
                performance: PerformanceSettings(prefetch: 0, pushParallel: parallel))
            context = WalvaultContext(config: config, stores: settings.map { try! WalvaultContext.makeStore($0) })
            for i in 1...segments {
                let name = WALSegmentName(timeline: 1, segmentNumber: UInt64(i), segmentSize: 1 << 20)
                names.append(name.description)
                _ = dir.write("pgdata/pg_wal/\(name)", makeSegment(name: name, seed: UInt64(i)))
                _ = dir.write("pgdata/pg_wal/archive_status/\(name).ready", [])
            }
        }

        /// PostgreSQL's call; the worker it would start in the background runs in place, before
        /// the call pushes its own segment (which it holds locked meanwhile).
        func push(_ name: String, worker: Bool = true) -> PushAhead.Outcome {
            var pushAhead = PushAhead(context: context)
            let started = self.started
            pushAhead.startWorker = { context, directory in
                if worker { PushAheadWorker(context: context, walDirectory: directory).run() }
                started.value.withLock { $0 += 1 }
                return nil
            }
            return pushAhead.run(walPath: Paths.join(pgWAL, name), events: IgnoredEvents())
        }

        func stored() throws -> [String: String] {
            var out: [String: String] = [:]
            for object in try context.stores[0].list(directory: "main/wal/0000000100000000", namePrefix: "") {
                if let name = StoredObjectName(object.name) { out[name.originalName] = name.sha256 }
            }
            return out
        }

        func statusEntries() -> [String] {
            ((try? FileSystem.listDirectory(dir.path + "/spool/pushed/main")) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        }
    }

    @Test func readySegmentsArePushedAheadAndEveryEntryIsBackedByTheStore() throws {
        let rig = Rig()
        // The worker takes the whole backlog but the segment PostgreSQL's call holds.
        let outcome = rig.push(rig.names[0])
        #expect(rig.workersStarted == 1)
        #expect(try outcome.result.get().stored.count == 1)
        let stored = try rig.stored()
        #expect(Set(stored.keys) == Set(rig.names))
        #expect(rig.statusEntries() == rig.names[1...].map { PushAheadPlan.statusName(segment: $0, sha256: stored[$0]!) })

        // PostgreSQL's call for one of them: confirmed from the entry, nothing stored again.
        let second = rig.push(rig.names[1])
        #expect(second.confirmed)
        #expect(try second.result.get().sha256 == stored[rig.names[1]])
        #expect(try second.result.get().stored.isEmpty)
        #expect(!rig.statusEntries().contains { $0.hasPrefix(rig.names[1]) }, "the entry is used once")
    }

    @Test func anEntryThatDoesNotMatchTheFileIsNotTrusted() throws {
        let rig = Rig()
        _ = rig.push(rig.names[0])
        // pg_wal's file is not what was stored (a test can do what PostgreSQL never would).
        let name = WALSegmentName(rig.names[2])!
        _ = rig.dir.write("pgdata/pg_wal/\(rig.names[2])", makeSegment(name: name, seed: 999))
        let outcome = rig.push(rig.names[2])
        #expect(!outcome.confirmed)
        guard case .failure(let error) = outcome.result else { Issue.record("different content was accepted"); return }
        #expect("\(error)".contains("different content"))
    }

    @Test func anEntryForOtherStoresIsNotTrusted() throws {
        var rig = Rig()
        _ = rig.push(rig.names[0])
        let entry = try #require(rig.statusEntries().first { $0.hasPrefix(rig.names[3]) })
        let path = rig.dir.path + "/spool/pushed/main/" + entry
        let identity = String(decoding: try FileSystem.readSmallFile(path), as: UTF8.self).split(separator: "\n")[0]
        try FileSystem.writeAtomically(path, contents: Array("\(identity)\nlocal\nother".utf8))
        let outcome = rig.push(rig.names[3])
        #expect(!outcome.confirmed)
        #expect(try outcome.result.get().alreadyPresentIn == ["local"], "checked against the store itself")
        rig.names.removeAll()
    }

    @Test func pushParallelOneIsOff() throws {
        let rig = Rig(parallel: 1)
        _ = rig.push(rig.names[0])
        #expect(rig.workersStarted == 0)
        #expect(try rig.stored().keys.sorted() == [rig.names[0]])
        #expect(PushAheadWorker(context: rig.context, walDirectory: rig.pgWAL).run() == 0)
    }

    /// Without a backlog no worker is started; a worker does not push what PostgreSQL's call holds,
    /// and a second worker does nothing while one runs.
    @Test func theWorkerLeavesHeldSegmentsAndRunsAlone() throws {
        let rig = Rig(segments: 3)
        let status = try #require(PushAheadStatus(rig.context))
        let held = try #require(status.lock(segment: rig.names[1], wait: false))
        #expect(status.lock(segment: rig.names[1], wait: false) == nil, "one holder at a time")
        let worker = PushAheadWorker(context: rig.context, walDirectory: rig.pgWAL)
        #expect(worker.run() == 2)
        #expect(Set(try rig.stored().keys) == [rig.names[0], rig.names[2]])
        try held.close()

        // The worker's lock is taken: another worker returns at once.
        let workerLock = try FileDescriptor.open(status.workerLockPath, flags: O_RDWR | O_CREAT, mode: 0o600)
        // The worker let go when it returned; a child another test is spawning at that moment may
        // hold a copy of the descriptor until its exec closes it (seen once under load), so wait
        // for that, boundedly, rather than race it.
        var taken = try workerLock.tryLockExclusive()
        for _ in 0..<500 where !taken {
            usleep(10_000)
            taken = try workerLock.tryLockExclusive()
        }
        #expect(taken)
        #expect(worker.run() == 0)
        try workerLock.close()

        // PostgreSQL archives the rest; the last call has no backlog and starts no worker.
        for name in rig.names.dropLast() {
            _ = rig.push(name, worker: false)
            rig.dir.rename("pgdata/pg_wal/archive_status/\(name).ready", to: "pgdata/pg_wal/archive_status/\(name).done")
        }
        let before = rig.workersStarted
        #expect(try rig.push(rig.names[2]).confirmed)
        #expect(rig.workersStarted == before)
    }

    /// An entry or lock whose segment PostgreSQL has archived (no `.ready` any more) is removed
    /// by the next worker; those of segments still to come stay.
    @Test func staleEntriesAreRemoved() throws {
        let rig = Rig(segments: 3)
        let status = try #require(PushAheadStatus(rig.context))
        try status.record(segment: rig.names[0], sha256: String(repeating: "a", count: 64), stores: ["local"], identity: "x")
        try status.record(segment: rig.names[1], sha256: String(repeating: "b", count: 64), stores: ["local"], identity: "x")
        try status.lock(segment: rig.names[0], wait: false)?.close()
        rig.dir.rename("pgdata/pg_wal/archive_status/\(rig.names[0]).ready", to: "pgdata/pg_wal/archive_status/\(rig.names[0]).done")
        status.removeStale(walDirectory: rig.pgWAL)
        let left = ((try? FileSystem.listDirectory(status.directory)) ?? []).sorted()
        #expect(!left.contains { $0.hasPrefix(rig.names[0]) || $0 == ".lock-" + rig.names[0] }, "\(left)")
        #expect(left.contains(rig.names[1] + "-" + String(repeating: "b", count: 64)))
    }

    @Test func thePlanTakesReadySegmentsOnlyOldestFirst() {
        let names = [
            "000000010000000000000007.ready", "000000010000000000000005.ready", "000000010000000000000006.done",
            "00000002.history.ready", "000000010000000000000003.00000028.backup.ready", "000000010000000000000004.ready",
            "000000010000000000000009.partial.ready", "junk.ready"
        ]
        #expect(
            PushAheadPlan.segments(statusNames: names, current: "000000010000000000000004", limit: 10)
                == ["000000010000000000000005", "000000010000000000000007"])
        #expect(PushAheadPlan.segments(statusNames: names, current: "000000010000000000000004", limit: 1) == ["000000010000000000000005"])
        #expect(PushAheadPlan.segments(statusNames: names, current: "x", limit: 0).isEmpty)
    }
}
