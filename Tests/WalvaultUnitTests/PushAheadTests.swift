import Testing
@testable import WalvaultCatalog
@testable import WalvaultCommands
import WalvaultConfig
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

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

        init(segments: Int = 10, parallel: Int = 2) {
            store = dir.sub("store")
            pgWAL = dir.sub("pgdata/pg_wal")
            _ = dir.sub("pgdata/pg_wal/archive_status")
            let settings = [StoreSettings(name: "local", kind: .local(path: store))]
            let config = WalvaultConfig(path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", spool: dir.sub("spool")),
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

        func push(_ name: String) -> PushAhead.Outcome {
            PushAhead(context: context).run(walPath: Paths.join(pgWAL, name), events: IgnoredEvents())
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
        let outcome = rig.push(rig.names[0])
        #expect(try outcome.result.get().stored.count == 1)
        #expect(outcome.ahead.map(\.segment) == Array(rig.names[1...7]), "push_parallel 2: a batch of 7 beyond the one asked for")
        #expect(outcome.ahead.allSatisfy { $0.ok })
        let stored = try rig.stored()
        #expect(Set(stored.keys) == Set(rig.names[0...7]))
        #expect(rig.statusEntries() == rig.names[1...7].map { PushAheadPlan.statusName(segment: $0, sha256: stored[$0]!) })

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
        let outcome = rig.push(rig.names[0])
        #expect(outcome.ahead.isEmpty)
        #expect(try rig.stored().keys.sorted() == [rig.names[0]])
    }

    @Test func thePlanTakesReadySegmentsOnlyOldestFirst() {
        let names = ["000000010000000000000007.ready", "000000010000000000000005.ready", "000000010000000000000006.done",
                     "00000002.history.ready", "000000010000000000000003.00000028.backup.ready", "000000010000000000000004.ready",
                     "000000010000000000000009.partial.ready", "junk.ready"]
        #expect(PushAheadPlan.segments(statusNames: names, current: "000000010000000000000004", limit: 10)
                == ["000000010000000000000005", "000000010000000000000007"])
        #expect(PushAheadPlan.segments(statusNames: names, current: "000000010000000000000004", limit: 1) == ["000000010000000000000005"])
        #expect(PushAheadPlan.segments(statusNames: names, current: "x", limit: 0).isEmpty)
    }
}
