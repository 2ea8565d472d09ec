import Foundation
import Synchronization
import Testing
import WalvaultCatalog
import WalvaultMaintenance
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultBackup
@testable import WalvaultKit

/// A full, then incrementals of a fake data directory, packed as `Backup` packs them and restored
/// as a chain: only changed blocks (and changed small files) are stored, the rest is referenced
/// where it lives, and the assembled files are byte-identical to the directory at each backup.
@Suite struct IncrementalPackingTests {
    static let block = BackupManifest.blockSize
    let dir = TempDir()
    let context: WalvaultContext
    let layout = ArchiveLayout(cluster: "main")
    let source: String

    init() {
        context = makeContext(stores: [dir.sub("store")])
        source = dir.sub("source")
    }

    func write(_ files: [String: [UInt8]]) {
        for (path, bytes) in files { _ = dir.write("source/" + path, bytes) }
    }

    /// Packs and stores the manifest, as a complete backup.
    func backUp(_ files: [String: [UInt8]], label: String, prior: BackupManifest? = nil, partSize: Int = 5 * 8192) throws -> BackupManifest {
        let priorBackup = try prior.map {
            let directory = layout.backupDirectory($0.label)
            let directories = try context.stores.map { ($0, try $0.list(directory: directory, namePrefix: "")) }
            return try PriorBackup(manifest: $0, directories: directories, layout: layout, temporaryDirectory: dir.path)
        }
        var manifest = try BackupRestoreTests.pack(
            files: files, source: source, context: context, label: label, partSize: partSize, parallel: 2, prior: priorBackup,
            vanished: false)
        manifest.stopTime = Int64(manifest.label.hashValue & 0xffff)
        _ = try context.stores[0].createSmall(key: layout.manifestKey(label), contents: try manifest.encoded())
        return manifest
    }

    func restore(_ label: String?, into target: String) throws -> RestoreReport {
        let segment = WALSegmentName(timeline: 1, segmentNumber: 2, segmentSize: mib16)
        if try context.stores[0].objects(of: .segment(segment), layout: layout).isEmpty {
            let writer = try context.stores[0].makeWriter(directory: layout.directory(for: .segment(segment)))
            _ = try writer.commit(name: "\(segment)-\(String(repeating: "a", count: 64)).zst")
        }
        return try Restore(
            context: context,
            options: RestoreOptions(pgdata: target, target: .latest, backupLabel: label, restoreCommand: "/usr/bin/walvault")
        ).run()
    }

    func changed(_ bytes: [UInt8], blocks: [Int], seed: UInt8) -> [UInt8] {
        var out = bytes
        for b in blocks { out[b * Self.block + 100] ^= seed }
        return out
    }

    @Test func anIncrStoresOnlyTheChangedBlocksAndItsChainRestoresExactly() throws {
        var files: [String: [UInt8]] = [
            "PG_VERSION": Array("15\n".utf8),
            "base/1/16384": sampleBytes(40 * Self.block, seed: 1),
            "base/1/16384_fsm": sampleBytes(3 * Self.block, seed: 2),
            "base/1/16390": sampleBytes(7 * Self.block + 100, seed: 3),  // a last block cut short (being extended)
            "base/1/pg_filenode.map": sampleBytes(512, seed: 4),
            "global/pg_control": sampleBytes(8192, seed: 5)
        ]
        write(files)
        let full = try backUp(files, label: "20261201T000000Z")
        #expect(full.type == .full && full.references.isEmpty && !full.mapParts.isEmpty)
        let fullData = full.parts.reduce(0) { $0 + $1.size }

        // Blocks 3, 4 and 30 change; a block is added; the small file and the fsm stay.
        files["base/1/16384"] = changed(files["base/1/16384"]!, blocks: [3, 4, 30], seed: 0x55) + sampleBytes(Self.block, seed: 9)
        files["global/pg_control"] = sampleBytes(8192, seed: 6)
        write(files)
        let incr = try backUp(files, label: "20261202T000000Z", prior: full)
        #expect(incr.type == .incr && incr.prior == full.label && incr.chain == [full.label])
        let stored = incr.parts.reduce(0) { $0 + $1.size }
        // 4 blocks of 16384, the short block of 16390 (always stored), pg_control.
        #expect(stored == 4 * Self.block + 100 + 8192, "stored \(stored) of \(fullData)")
        let fsm = try #require(incr.entries.first { $0.path == "base/1/16384_fsm" })
        #expect(fsm.ranges?.allSatisfy { $0.source == 1 } == true)
        let small = try #require(incr.entries.first { $0.path == "base/1/pg_filenode.map" })
        #expect(small.ranges?.allSatisfy { $0.source == 1 } == true)

        // A second incr on the first: blocks of both earlier backups are read.
        files["base/1/16384"] = changed(files["base/1/16384"]!, blocks: [10], seed: 0x22)
        files["base/1/pg_filenode.map"] = sampleBytes(512, seed: 44)
        write(files)
        let second = try backUp(files, label: "20261203T000000Z", prior: incr)
        #expect(Set(second.chain) == [full.label, incr.label])
        #expect(second.parts.reduce(0) { $0 + $1.size } == Self.block + 100 + 512, "pg_control did not change this time")

        let target = dir.sub("restored")
        let report = try restore(second.label, into: target)
        #expect(report.plan.lines.contains { $0.hasPrefix("chain: reads") }, "\(report.plan.lines)")
        // What the plan says it decompresses: the second's parts and the parts of the others it
        // references (a full's part whose every block changed since is not read).
        let partsRead = (second.parts + second.references.flatMap(\.parts)).reduce(0) { $0 + $1.size }
        #expect(report.plan.decompressed == partsRead && partsRead > second.parts.reduce(0) { $0 + $1.size })
        let megabytes = String(format1: Double(partsRead) / 1_000_000)
        #expect(report.plan.lines.contains { $0.hasSuffix("; \(megabytes) MB to decompress for 0.4 MB of files") }, "\(report.plan.lines)")
        for (path, bytes) in files { #expect(read(Paths.join(target, path)) == bytes, "\(path)") }
    }

    /// The inventory keeps summaries, which leave the files' ranges unread: a backup whose ranges
    /// are damaged shows only when restore reads it whole, and is then gone around (or, asked for
    /// by name, refused) as a damaged backup is.
    @Test func aBackupWhoseRangesAreDamagedIsGoneAroundWhenReadWhole() throws {
        let files: [String: [UInt8]] = ["base/1/16384": sampleBytes(4 * Self.block, seed: 1), "global/pg_control": sampleBytes(8192, seed: 5)]
        write(files)
        var older = try backUp(files, label: "20261201T000000Z")
        var newer = try backUp(files, label: "20261202T000000Z")
        older.stopTime = 1_000
        newer.stopTime = 2_000
        let relation = try #require(newer.entries.first { $0.path == "base/1/16384" })
        let json = String(decoding: try newer.encoded(), as: UTF8.self)
        // JSONEncoder may write a base64 slash as "\/".
        let packed = PackedRanges.encode(try #require(relation.ranges)).replacingOccurrences(of: "/", with: "\\/")
        let damaged = json.replacingOccurrences(of: packed, with: "AAAAgA==")
        #expect(damaged != json)
        let store = context.stores[0]
        for (manifest, bytes) in [(older, try older.encoded()), (newer, Array(damaged.utf8))] {
            try store.delete(key: layout.manifestKey(manifest.label))
            #expect(try store.createSmall(key: layout.manifestKey(manifest.label), contents: bytes))
        }

        let report = try restore(nil, into: dir.sub("restored"))
        #expect(report.plan.backup.label == older.label)
        #expect(
            report.plan.notes.contains { $0.hasPrefix("skipped backup \(newer.label): backup \(newer.label)'s manifest cannot be read again") },
            "\(report.plan.notes)")
        for (path, bytes) in files { #expect(read(Paths.join(dir.sub("restored"), path)) == bytes, "\(path)") }

        let refused = try #require(throws: CatalogError.self) { _ = try restore(newer.label, into: dir.sub("asked-for")) }
        #expect(refused.problem.contains("base/1/16384: the packed ranges end inside a number"), "\(refused.problem)")
    }

    /// Verify checks the blocks an incremental stored itself against its block map: two of them
    /// swapped in the manifest leave every part intact, and the file wrong.
    @Test func verifyChecksAnIncrementalsOwnBlocksAgainstItsBlockMap() throws {
        var files: [String: [UInt8]] = ["base/1/16384": sampleBytes(12 * Self.block, seed: 1), "global/pg_control": sampleBytes(8192, seed: 5)]
        write(files)
        let full = try backUp(files, label: "20261201T000000Z")
        files["base/1/16384"] = changed(files["base/1/16384"]!, blocks: [2, 7], seed: 0x31)
        write(files)
        let incr = try backUp(files, label: "20261202T000000Z", prior: full)
        let store = context.stores[0]
        func verify(_ label: String) throws -> [String] {
            let objects = try store.list(directory: layout.backupDirectory(label), namePrefix: "")
            let fullParts = Set(try store.list(directory: layout.backupDirectory(full.label), namePrefix: "").map(\.name))
            let outcome = Verify.verifyBackup(
                label: label, objects: objects, store: store, layout: layout, partsAnywhere: [full.label: fullParts], advance: { _, _ in })
            if label == full.label { #expect(outcome.files == 2, "both files checked whole") }
            // The helper stores no manifest copy.
            return outcome.problems.filter { $0.object != layout.manifestCopyKey(label) }.map(\.problem)
        }
        #expect(try verify(full.label).isEmpty)
        #expect(try verify(incr.label).isEmpty)

        let index = try #require(incr.entries.firstIndex { $0.path == "base/1/16384" })
        var ranges = try #require(incr.entries[index].ranges)
        let own = ranges.indices.filter { ranges[$0].source == 0 }
        try #require(own.count == 2, "\(ranges)")
        (ranges[own[0]].part, ranges[own[1]].part) = (ranges[own[1]].part, ranges[own[0]].part)
        (ranges[own[0]].offset, ranges[own[1]].offset) = (ranges[own[1]].offset, ranges[own[0]].offset)
        var damaged = incr
        damaged.entries[index].ranges = ranges
        try store.delete(key: layout.manifestKey(incr.label))
        #expect(try store.createSmall(key: layout.manifestKey(incr.label), contents: try damaged.encoded()))
        let found = try verify(incr.label)
        #expect(found == ["file base/1/16384 2 blocks, the first block 2, do not match the backup's block map"], "\(found)")

        // A block map the manifest places past the end of its map part: the file cannot be checked.
        var misplaced = incr
        let map = try #require(misplaced.entries[index].map)
        misplaced.entries[index].map = BackupManifest.MapRange(part: map.part, offset: 1 << 20, length: map.length)
        try store.delete(key: layout.manifestKey(incr.label))
        #expect(try store.createSmall(key: layout.manifestKey(incr.label), contents: try misplaced.encoded()))
        let unchecked = try verify(incr.label)
        #expect(
            unchecked == [
                "file base/1/16384 cannot be checked: backup \(incr.label)'s manifest places a block map outside map part \(map.part)"
            ], "\(unchecked)")
    }

    /// A chain's parts are read in the order their first bytes land in the files, whichever
    /// backup holds them, so a full's part and the newer pages between its runs are written close
    /// together; the restored files are exact either way.
    @Test func aChainsPartsAreReadWhereTheirBytesLand() throws {
        var files: [String: [UInt8]] = ["base/1/16384": sampleBytes(30 * Self.block, seed: 1), "global/pg_control": sampleBytes(8192, seed: 5)]
        write(files)
        let full = try backUp(files, label: "20261201T000000Z")
        files["base/1/16384"] = changed(files["base/1/16384"]!, blocks: [2, 3, 27], seed: 0x21)
        write(files)
        let incr = try backUp(files, label: "20261202T000000Z", prior: full)
        let target = dir.sub("ordered")
        _ = dir.write("ordered/base/1/.keep", [])
        _ = dir.write("ordered/global/.keep", [])
        let store = context.stores[0]
        let reads = Mutex<[String]>([])
        let layout = layout
        try RestoreWriter(manifest: incr, paths: incr.entries.map { Paths.join(target, $0.path) }).run(workers: 1) { label, part, sink in
            reads.withLock { $0.append("\(label == full.label ? "full" : "incr") \(part.number)") }
            _ = try ObjectFetcher.fetch(
                StoreObject(key: layout.backupDirectory(label) + "/" + part.name, size: part.storedSize), from: store, into: sink)
        }
        for (path, bytes) in files { #expect(read(Paths.join(target, path)) == bytes, "\(path)") }
        // Parts of five blocks: the full's part with blocks 0 to 4 lands first, then the incr's
        // part with the new pages 2, 3 and 27, before the full's part with blocks 5 to 9. The
        // manifest lists the incr's own parts first.
        let relation = { (m: BackupManifest) in m.entries.first { $0.path == "base/1/16384" }!.ranges! }
        let fullFirst = relation(full)[0].part
        let incrOwn = try #require(relation(incr).first { $0.source == 0 }).part
        let order = reads.withLock { $0 }
        #expect(Array(order.prefix(2)) == ["full \(fullFirst)", "incr \(incrOwn)"], "\(order)")
    }

    @Test func aTruncatedOrRewrittenFileIsNotTakenFromItsPrior() throws {
        var files: [String: [UInt8]] = ["base/1/16384": sampleBytes(10 * Self.block, seed: 1), "global/pg_control": sampleBytes(8192, seed: 5)]
        write(files)
        let full = try backUp(files, label: "20261201T000000Z")
        files["base/1/16384"] = Array(files["base/1/16384"]!.prefix(4 * Self.block))  // VACUUM truncated it
        write(files)
        let incr = try backUp(files, label: "20261202T000000Z", prior: full)
        #expect(incr.parts.isEmpty, "the four blocks left are the prior's")
        let target = dir.sub("restored")
        _ = try restore(incr.label, into: target)
        for (path, bytes) in files { #expect(read(Paths.join(target, path)) == bytes, "\(path)") }
    }

    @Test func aMissingPartOfThePriorRefusesTheRestoreBeforeWriting() throws {
        var files: [String: [UInt8]] = ["base/1/16384": sampleBytes(20 * Self.block, seed: 1), "global/pg_control": sampleBytes(8192, seed: 5)]
        write(files)
        let full = try backUp(files, label: "20261201T000000Z")
        files["base/1/16384"] = changed(files["base/1/16384"]!, blocks: [2], seed: 1)
        write(files)
        let incr = try backUp(files, label: "20261202T000000Z", prior: full)
        let referenced = try #require(incr.references.first?.parts.first)
        try FileSystem.remove(Paths.join(dir.path, "store", layout.backupDirectory(full.label), referenced.name))
        let target = Paths.join(dir.path, "restored")
        do {
            _ = try restore(incr.label, into: target)
            Issue.record("a broken chain was restored")
        } catch let error as CommandError {
            #expect(error.problem.contains("of backup \(full.label), which it builds on) is in no store"), "\(error)")
        }
        #expect(!FileSystem.exists(target), "nothing is written before the plan holds")
    }

    /// A format-1 manifest (walvault 0.1: `chunks`, parts named `part-` by the checksum of their
    /// original bytes) still restores.
    @Test func aFormatOneBackupStillRestores() throws {
        let bytes = sampleBytes(3000, seed: 7)
        let control = sampleBytes(8192, seed: 8)
        let store = context.stores[0]
        let directory = layout.backupDirectory("20250101T000000Z")
        var names: [String] = []
        for (index, part) in [bytes, control].enumerated() {
            let writer = try store.makeWriter(directory: directory)
            let compressor = try Compression.compressor(.zstd, level: 3, sizeHint: nil, threads: 0, next: StoreFanOut(writers: [writer]))
            try part.withUnsafeBytes { try compressor.write($0) }
            try compressor.finish()
            let name = "part-00000\(index + 1)-\(SHA256Hasher.hex(of: part)).zst"
            _ = try writer.commit(name: name)
            names.append(name)
        }
        let json = """
            {"format": 1, "label": "20250101T000000Z", "cluster": "main", "systemIdentifier": "1", "postgresVersion": 150000,
             "walSegmentSize": 16777216, "timeline": 1, "startLSN": "0/2000028", "stopLSN": "0/2000100", "startTime": 1, "stopTime": 2,
             "walvaultVersion": "0.1.0", "compression": "zstd", "backupLabel": "START TIMELINE: 1\\n", "tablespaces": [],
             "parts": [{"name": "\(names[0])", "size": 3000, "storedSize": 1, "sha256": "\(SHA256Hasher.hex(of: bytes))"},
                       {"name": "\(names[1])", "size": 8192, "storedSize": 1, "sha256": "\(SHA256Hasher.hex(of: control))"}],
             "entries": [{"path": "base", "kind": "directory", "mode": 448}, {"path": "base/1", "kind": "directory", "mode": 448},
                         {"path": "global", "kind": "directory", "mode": 448},
                         {"path": "base/1/16384", "kind": "file", "mode": 384, "size": 3000, "sha256": "\(SHA256Hasher.hex(of: bytes))",
                          "chunks": [{"part": 1, "offset": 0, "length": 3000}]},
                         {"path": "global/pg_control", "kind": "file", "mode": 384, "size": 8192, "sha256": "\(SHA256Hasher.hex(of: control))",
                          "chunks": [{"part": 2, "offset": 0, "length": 8192}]}]}
            """
        let manifest = try BackupManifest.decode(Array(json.utf8))
        #expect(manifest.format == 1 && manifest.type == .full && manifest.parts.map(\.number) == [1, 2])
        #expect(manifest.entries[3].ranges == [.init(source: 0, part: 1, offset: 0, length: 3000)])
        _ = try store.createSmall(key: layout.manifestKey("20250101T000000Z"), contents: Array(json.utf8))
        let target = dir.sub("restored")
        _ = try restore("20250101T000000Z", into: target)
        #expect(read(Paths.join(target, "base/1/16384")) == bytes)
        #expect(read(Paths.join(target, "global/pg_control")) == control)

        // No block maps: the next backup cannot build on it, and the planner says so.
        let decision = BackupLevelPlanner.decide(
            requested: .incr, candidates: [.init(manifest)], systemIdentifier: "1", fullEveryDays: 7, maxChain: 14, now: 3)
        #expect(decision.level == .full && decision.reason.contains("block maps"), "\(decision)")
    }

    @Test func aManifestRoundTripsAndAnUnknownFormatIsRefused() throws {
        var files: [String: [UInt8]] = ["base/1/16384": sampleBytes(3 * Self.block, seed: 1)]
        write(files)
        let full = try backUp(files, label: "20261201T000000Z")
        files["base/1/16384"] = changed(files["base/1/16384"]!, blocks: [1], seed: 3)
        write(files)
        let incr = try backUp(files, label: "20261202T000000Z", prior: full)
        #expect(try BackupManifest.decode(try incr.encoded()) == incr)
        var future = incr
        future.format = 3
        #expect(throws: CatalogError.self) { _ = try BackupManifest.decode(try future.encoded()) }
    }
}

@Suite struct ManifestSizeTests {
    /// A busy incremental's many ranges: stored as a zstd frame past 1 MiB, read back equal; a
    /// frame that would expand past the cap is refused as damage, not read into memory.
    @Test func aLargeManifestIsCompressedAndABombIsRefused() throws {
        let ranges = (0..<100_000).map { BackupManifest.Range(source: $0 % 2, part: 1 + $0 / 2000, offset: ($0 % 2000) * 8192, length: 8192) }
        let manifest = BackupManifest(
            label: "L", cluster: "main", systemIdentifier: "1", postgresVersion: 150000, walSegmentSize: mib16, timeline: 1,
            startLSN: LSN(0x2000028), stopLSN: LSN(0x2000100), startTime: 1, stopTime: 2, walvaultVersion: "t", compression: "zstd",
            backupLabel: "", tablespaceMap: nil, tablespaces: [],
            parts: (1...50).map { .init(name: "data-\($0)", number: $0, size: 1, storedSize: 1, sha256: "a") },
            entries: [.init(path: "base/1/16384", kind: .file, mode: 0o600, size: 100_000 * 8192, sha256: "b", ranges: ranges)], type: .incr,
            prior: "K",
            references: [.init(label: "K", parts: (1...50).map { .init(name: "data-\($0)", number: $0, size: 1, storedSize: 1, sha256: "c") })])
        let bytes = try manifest.encoded()
        #expect(bytes.starts(with: [0x28, 0xB5, 0x2F, 0xFD]), "compressed")
        #expect(bytes.count < 1 << 20, "\(bytes.count) bytes")
        #expect(try BackupManifest.decode(bytes) == manifest)

        // The summary an inventory keeps: everything but where each file's bytes are.
        let summary = try BackupManifest.decode(bytes, entries: false)
        #expect(summary.isSummary)
        #expect(summary.label == "L" && summary.prior == "K" && summary.type == .incr)
        #expect(summary.parts == manifest.parts && summary.references == manifest.references)
        #expect(summary.fileCount == 1 && summary.totalSize == 100_000 * 8192)
        #expect(summary.chain == ["K"])
        #expect(!(try BackupManifest.decode(bytes)).isSummary)

        let zeros = [UInt8](repeating: 0x20, count: BackupManifest.largestManifest + 1)
        let sink = MemorySink()
        let compressor = try Compression.compressor(.zstd, level: 1, sizeHint: zeros.count, threads: 0, next: sink)
        try zeros.withUnsafeBytes { try compressor.write($0) }
        try compressor.finish()
        #expect(throws: CatalogError.self) { _ = try BackupManifest.decode(sink.bytes) }
    }
}

@Suite struct FileRangesTests {
    @Test func adjacentRangesMergeAndTheCursorSplitsAcrossParts() {
        var ranges = FileRanges()
        ranges.append(.init(label: "A", part: 1, offset: 0, length: 100))
        ranges.append(.init(label: "A", part: 1, offset: 100, length: 50))
        ranges.append(.init(label: "A", part: 2, offset: 0, length: 80))
        ranges.append(.init(label: nil, part: 2, offset: 80, length: 10))
        ranges.append(.init(label: nil, part: 2, offset: 90, length: 0))
        #expect(ranges.ranges.map(\.length) == [150, 80, 10])

        var cursor = PriorRangeCursor(ranges.ranges)
        var out = FileRanges()
        #expect(cursor.ranges(at: 140, length: 20, into: &out))
        #expect(out.ranges == [.init(label: "A", part: 1, offset: 140, length: 10), .init(label: "A", part: 2, offset: 0, length: 10)])
        #expect(cursor.ranges(at: 230, length: 10, into: &out))
        #expect(out.ranges.last == .init(label: nil, part: 2, offset: 80, length: 10))
        #expect(!cursor.ranges(at: 235, length: 10, into: &out), "past the prior's end")
        #expect(out.ranges.count == 3, "a refused stretch adds nothing")
    }

    @Test(arguments: [
        ("base/1/16384", true), ("base/1/16384.12", true), ("base/1/16384_fsm", true), ("base/1/16384_vm.1", true),
        ("base/1/16384_init", true), ("global/1262", true), ("pg_tblspc/16400/PG_15_202209061/5/16401", true),
        ("base/1/pg_filenode.map", false), ("base/1/PG_VERSION", false), ("global/pg_control", false), ("pg_xact/0000", false),
        ("base/1/16384.", false), ("base/1/16384_xyz", false), ("base/x/16384", false), ("16384", false)
    ])
    func relationFilesAreRecognised(path: String, expected: Bool) {
        #expect(RelationFile.isRelation(path) == expected)
    }
}

/// A manifest's ranges travel packed: varints, base64, one JSON string per file.
@Suite struct PackedRangesTests {
    @Test func rangesRoundTripWhateverTheirValues() throws {
        let values = [0, 1, 127, 128, 16_383, 16_384, 8192 * 131_072, 1 << 40, Int.max]
        var ranges: [BackupManifest.Range] = []
        for (i, a) in values.enumerated() {
            for b in values { ranges.append(.init(source: i, part: a, offset: b, length: values[(i + 3) % values.count])) }
        }
        #expect(try PackedRanges.decode(PackedRanges.encode(ranges)) == ranges)
        #expect(try PackedRanges.decode(PackedRanges.encode([])) == [])
    }

    @Test func damagedPackingIsRefusedWithWhatIsWrong() throws {
        #expect(throws: PackedRanges.Damaged(reason: "the packed ranges are not base64")) { try PackedRanges.decode("not base64!") }
        // A continuation bit on the last byte: a number cut short.
        #expect(throws: PackedRanges.Damaged(reason: "the packed ranges end inside a number")) {
            try PackedRanges.decode(Data([0x01, 0x02, 0x03, 0x84]).base64EncodedString())
        }
        // Ten bytes: more than an Int holds.
        #expect(throws: PackedRanges.Damaged(reason: "a packed range holds a number too large")) {
            try PackedRanges.decode(Data(Array(repeating: 0xFF, count: 9) + [0x01, 0, 0, 0]).base64EncodedString())
        }
        // In a manifest: the backup is reported as unparsable, naming the file.
        let json = String(decoding: try Self.manifest().encoded(), as: UTF8.self)
        let damaged = json.replacingOccurrences(of: PackedRanges.encode(Self.ranges), with: "AAAAgA==")
        #expect(damaged != json)
        do {
            _ = try BackupManifest.decode(Array(damaged.utf8))
            Issue.record("a damaged manifest was read")
        } catch let error as DecodingError {
            #expect(Inventory.summary(error).contains("base/1/16384: the packed ranges end inside a number"), "\(Inventory.summary(error))")
        }
    }

    /// Manifests written before the packing, with four numbers per range, still restore.
    @Test func rangesAsFourNumbersAreStillRead() throws {
        let json = String(decoding: try Self.manifest().encoded(), as: UTF8.self)
        let old = json.replacingOccurrences(
            of: "\"packedRanges\":\"\(PackedRanges.encode(Self.ranges))\"", with: "\"ranges\":[[0,1,0,8192],[1,2,16384,8192]]")
        #expect(old != json)
        let manifest = try BackupManifest.decode(Array(old.utf8))
        #expect(manifest.entries[0].ranges == Self.ranges)
        #expect(manifest == (try Self.manifest()))
    }

    static let ranges: [BackupManifest.Range] = [
        .init(source: 0, part: 1, offset: 0, length: 8192), .init(source: 1, part: 2, offset: 16384, length: 8192)
    ]

    static func manifest() throws -> BackupManifest {
        var manifest = emptyManifest(stop: 1_000_000_000, startSegment: 2)
        manifest.entries = [.init(path: "base/1/16384", kind: .file, mode: 0o600, size: 16384, sha256: "b", ranges: ranges)]
        return manifest
    }
}
