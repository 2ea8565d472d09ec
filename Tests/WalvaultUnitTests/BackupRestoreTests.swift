import Testing
import WalvaultCatalog
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultBackup
@testable import WalvaultKit
@testable import WalvaultMaintenance

#if canImport(Glibc)
    import Glibc
#endif

/// Packs a fake data directory with tiny parts, writes its manifest the way `Backup` does, and
/// restores it: files spanning many parts, empty files and pg_control all come back exactly.
@Suite struct BackupRestoreTests {
    struct Fixture {
        let dir = TempDir()
        let context: WalvaultContext
        let files: [String: [UInt8]]
        let manifest: BackupManifest

        init(partSize: Int = 1000) throws {
            context = makeContext(stores: [dir.sub("store")])
            let files: [String: [UInt8]] = [
                "PG_VERSION": Array("15\n".utf8),
                "base/1/1259": sampleBytes(5_500, seed: 3),
                "base/1/empty": [],
                "global/pg_control": sampleBytes(8192, seed: 4),
                "global/1262": sampleBytes(999, seed: 5)
            ]
            self.files = files
            let source = dir.sub("source")
            for (path, bytes) in files { _ = dir.write("source/" + path, bytes) }
            let layout = ArchiveLayout(cluster: "main")
            manifest = try BackupRestoreTests.pack(files: files, source: source, context: context, label: "L1", partSize: partSize)
            let store = context.stores[0]
            _ = try store.createSmall(key: layout.manifestKey("L1"), contents: try manifest.encoded())
            // The WAL the backup needs.
            let segment = WALSegmentName(timeline: 1, segmentNumber: 2, segmentSize: mib16)
            let writer = try store.makeWriter(directory: layout.directory(for: .segment(segment)))
            _ = try writer.commit(name: "\(segment)-\(String(repeating: "a", count: 64)).zst")
        }

        func restore(into target: String, force: Bool = false, parallel: Int = 2) throws -> RestoreReport {
            var config = context.config
            config.performance.restoreParallel = parallel
            return try Restore(
                context: WalvaultContext(config: config, stores: context.rawStores, keyRing: context.keyRing),
                options: RestoreOptions(
                    pgdata: target, target: .latest, force: force,
                    restoreCommand: "/usr/bin/walvault --config /x.toml")
            ).run()
        }
    }

    /// Packs `files` (under `source`) the way `Backup` does, with pg_control last, against `prior`
    /// when given, and returns the manifest (not yet stored).
    static func pack(
        files: [String: [UInt8]], source: String, context: WalvaultContext, label: String, partSize: Int, parallel: Int = 1,
        prior: PriorBackup? = nil, vanished: Bool = true
    ) throws -> BackupManifest {
        let layout = ArchiveLayout(cluster: "main")
        let copier = BackupCopier(
            stores: context.stores, directory: layout.backupDirectory(label), compression: context.config.compression,
            partSize: partSize, parallel: parallel, prior: prior)
        var directories: Set<String> = []
        for path in files.keys {
            var parent = Paths.dirname(path)
            while parent != "." && parent != "/" && !parent.isEmpty {
                directories.insert(parent)
                parent = Paths.dirname(parent)
            }
        }
        var items: [DataDirectoryWalker.Item] = directories.sorted().map { .entry(.init(path: $0, kind: .directory, mode: 0o700)) }
        for path in files.keys.sorted() where path != "global/pg_control" {
            items.append(.file(path: Paths.join(source, path), relative: path, mode: 0o600, size: files[path]!.count))
        }
        if vanished { items.append(.file(path: Paths.join(source, "base/1/vanished"), relative: "base/1/vanished", mode: 0o600, size: 100)) }
        var copied = try copier.copy(items)
        #expect(!copied.contains { $0.entry.path == "base/1/vanished" })
        if files["global/pg_control"] != nil {
            copied.append(
                try #require(try copier.copyLast(path: Paths.join(source, "global/pg_control"), relative: "global/pg_control", mode: 0o600)))
        }
        let parts = try copier.finish()
        let (entries, references) = try Backup.placeRanges(copied, prior: prior)
        let manifest = BackupManifest(
            label: label, cluster: "main", systemIdentifier: "1", postgresVersion: 150000, walSegmentSize: mib16,
            timeline: 1, startLSN: LSN(UInt64(mib16) * 2), stopLSN: LSN(UInt64(mib16) * 2 + 500), startTime: 1, stopTime: 2,
            walvaultVersion: "test", compression: "zstd", backupLabel: "START TIMELINE: 1\n", tablespaceMap: nil,
            tablespaces: [], parts: parts.data, entries: entries.sorted { $0.path < $1.path }, type: prior == nil ? .full : .incr,
            prior: prior?.manifest.label, mapParts: parts.maps, references: references)
        try manifest.checkRanges()
        return manifest
    }

    /// One worker, and more workers than parts of a file: pieces of one file arrive out of order
    /// and are hashed in order all the same.
    @Test(arguments: [1, 2, 4, 16]) func filesSpanningManyPartsComeBackExactly(parallel: Int) throws {
        let f = try Fixture()
        #expect(f.manifest.parts.count == 15)  // 5500 + 3 + 999 + 8192 = 14694 bytes in 1000-byte parts
        #expect(f.manifest.parts.allSatisfy { $0.size <= 1000 })
        let target = Paths.join(f.dir.path, "restored")
        let report = try f.restore(into: target, parallel: parallel)
        #expect(report.files == 5)
        for (path, bytes) in f.files { #expect(read(Paths.join(target, path)) == bytes, "\(path)") }
        #expect(read(Paths.join(target, "backup_label")) == Array("START TIMELINE: 1\n".utf8))
        #expect(FileSystem.exists(Paths.join(target, "recovery.signal")))
        let autoConf = String(decoding: read(Paths.join(target, "postgresql.auto.conf")), as: UTF8.self)
        #expect(autoConf.contains("restore_command = '/usr/bin/walvault --config /x.toml archive-get %f \"%p\"'"))
        #expect(!autoConf.contains("recovery_target_time ="))
        #expect(try FileSystem.status(Paths.join(target, "base/1/1259"))?.mode == 0o600)
        #expect(try FileSystem.status(target)?.mode == 0o700)
    }

    @Test(arguments: [1, 4]) func corruptedPartStopsTheRestoreAndLeavesNoPGControl(parallel: Int) throws {
        let f = try Fixture()
        let key = "main/backup/L1/" + f.manifest.parts[3].name
        var bytes = read(Paths.join(f.dir.path, "store", key))
        bytes[bytes.count - 6] ^= 0x40
        _ = f.dir.write("store/" + key, bytes)
        let target = Paths.join(f.dir.path, "restored")
        #expect(throws: CommandError.self) { _ = try f.restore(into: target, parallel: parallel) }
        #expect(!FileSystem.exists(Paths.join(target, "global/pg_control")), "a torn restore must not be startable")
    }

    /// A part that decompresses cleanly but holds other bytes is caught by the checksum of its
    /// stored bytes, before a file's checksum would.
    @Test(arguments: [1, 4]) func aWellFormedPartWithOtherBytesIsCaughtByTheFilesChecksums(parallel: Int) throws {
        let f = try Fixture()
        let directory = Paths.join(f.dir.path, "store/main/backup/L1")
        #expect(f.manifest.parts[3].size == f.manifest.parts[4].size)
        let other = read(Paths.join(directory, f.manifest.parts[4].name))
        try FileSystem.remove(Paths.join(directory, f.manifest.parts[3].name))
        _ = f.dir.write("store/main/backup/L1/" + f.manifest.parts[3].name, other)
        let target = Paths.join(f.dir.path, "restored")
        do {
            _ = try f.restore(into: target, parallel: parallel)
            Issue.record("a part with other bytes was restored")
        } catch let error as CommandError {
            #expect(error.problem.contains("fails its checksum"), "\(error)")
        }
        #expect(!FileSystem.exists(Paths.join(target, "global/pg_control")), "a torn restore must not be startable")
    }

    /// The writer's own guards, below the store: a manifest whose chunks do not add up to a file's
    /// size, and parts that never deliver a file's bytes.
    @Test func aFileWhoseBytesDoNotAllArriveIsRefused() throws {
        let f = try Fixture()
        let target = f.dir.sub("direct")
        let paths = f.manifest.entries.indices.map { Paths.join(target, "entry-\($0)") }
        let store = f.context.stores[0]
        let directory = ArchiveLayout(cluster: "main").backupDirectory("L1")
        let fetch: @Sendable (String, BackupManifest.Part, ByteSink) throws -> Void = { _, part, sink in
            guard part.number != 8 else { return }  // a part that delivers nothing
            _ = try ObjectFetcher.fetch(StoreObject(key: directory + "/" + part.name, size: part.storedSize), from: store, into: sink)
        }
        do {
            try RestoreWriter(manifest: f.manifest, paths: paths).run(workers: 3, fetch: fetch)
            Issue.record("a restore missing a part's bytes succeeded")
        } catch let error as CommandError {
            #expect(error.problem == "backup L1 ends before 1 of its files are complete", "\(error)")
        }

        var lying = f.manifest
        let index = try #require(lying.entries.firstIndex { $0.path == "base/1/1259" })
        lying.entries[index].size = 5_000
        do {
            try RestoreWriter(manifest: lying, paths: paths).run(workers: 3, fetch: fetch)
            Issue.record("a manifest with a wrong size was used")
        } catch let error as CatalogError {
            #expect(error.problem == "backup L1 lists 5500 bytes in parts for base/1/1259, which is 5000 bytes long", "\(error)")
        }
    }

    /// Several packers fill one backup at once: part numbers stay dense whichever packer took them,
    /// every file comes back exactly through its packer's parts, and a file that vanished between
    /// the walk and its copy is left out.
    @Test(arguments: [1, 3]) func parallelPackersWriteOneConsistentBackup(parallel: Int) throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        var files: [String: [UInt8]] = ["PG_VERSION": Array("15\n".utf8), "global/pg_control": sampleBytes(8192, seed: 9)]
        for i in 0..<40 { files["base/1/\(16384 + i)"] = sampleBytes([0, 1, 700, 2_500, 9_000][i % 5], seed: UInt64(i)) }
        for (path, bytes) in files { _ = dir.write("source/" + path, bytes) }
        let source = dir.sub("source")
        let layout = ArchiveLayout(cluster: "main")
        let manifest = try Self.pack(files: files, source: source, context: context, label: "L1", partSize: 1000, parallel: parallel)
        let parts = manifest.parts
        #expect(parts.map { String($0.name.prefix(11)) } == parts.indices.map { PartStream.name(kind: "data", number: $0 + 1) })
        let target = dir.sub("restored")
        let paths = manifest.entries.map { Paths.join(target, $0.path) }
        _ = dir.write("restored/base/1/.keep", [])
        _ = dir.write("restored/global/.keep", [])
        let store = context.stores[0]
        try RestoreWriter(manifest: manifest, paths: paths).run(workers: 2) { _, part, sink in
            _ = try ObjectFetcher.fetch(
                StoreObject(key: layout.backupDirectory("L1") + "/" + part.name, size: part.storedSize), from: store, into: sink)
        }
        for (path, bytes) in files where !bytes.isEmpty { #expect(read(Paths.join(target, path)) == bytes, "\(path)") }
    }

    @Test func missingPartIsNamed() throws {
        let f = try Fixture()
        try FileSystem.remove(Paths.join(f.dir.path, "store/main/backup/L1", f.manifest.parts.last!.name))
        do {
            _ = try f.restore(into: Paths.join(f.dir.path, "restored"))
            Issue.record("expected an error")
        } catch let error as CommandError {
            #expect(error.problem.contains(f.manifest.parts.last!.name))
        }
        #expect(!FileSystem.exists(Paths.join(f.dir.path, "restored/global/pg_control")))
    }

    @Test func nonEmptyTargetIsRefusedUnlessForced() throws {
        let f = try Fixture()
        let target = f.dir.sub("occupied")
        _ = f.dir.write("occupied/precious", [1, 2, 3])
        // An old data directory: --force may clear only what is recognisably one.
        _ = f.dir.write("occupied/PG_VERSION", Array("15\n".utf8))
        _ = f.dir.write("occupied/global/pg_control", [0])
        do {
            _ = try f.restore(into: target)
            Issue.record("expected an error")
        } catch let error as CommandError {
            #expect(error.problem.contains("is not empty"))
            #expect(error.fix.contains("--force"))
        }
        #expect(read(Paths.join(target, "precious")) == [1, 2, 3])
        _ = try f.restore(into: target, force: true)
        #expect(!FileSystem.exists(Paths.join(target, "precious")))
        #expect(read(Paths.join(target, "PG_VERSION")) == Array("15\n".utf8))
    }

    @Test func runningServerIsNeverOverwrittenEvenWithForce() throws {
        let f = try Fixture()
        let target = f.dir.sub("live")
        _ = f.dir.write("live/postmaster.pid", Array("\(getpid())\n/live\n".utf8))
        #expect(throws: CommandError.self) { _ = try f.restore(into: target, force: true) }
        #expect(FileSystem.exists(Paths.join(target, "postmaster.pid")))
    }

    @Test func backupWithoutManifestIsIncompleteAndNeverChosen() throws {
        let f = try Fixture()
        try FileSystem.remove(Paths.join(f.dir.path, "store/main/backup/L1/backup.manifest"))
        let report = try InfoReport.gather(context: f.context)
        #expect(report.backups.isEmpty)
        #expect(report.incompleteBackups == ["L1"])
        #expect(throws: CatalogError.self) { _ = try f.restore(into: Paths.join(f.dir.path, "restored")) }
    }
}

@Suite struct RecoverySettingsTests {
    @Test func replacesAnEarlierWalvaultBlockAndKeepsEverythingElse() {
        let first = Restore.recoverySettings(
            existing: "# Do not edit\nwork_mem = '64MB'\n", restoreCommand: "/bin/walvault --config /c.toml",
            target: .time(1_795_428_000_000_000))
        #expect(first.contains("work_mem = '64MB'"))
        #expect(first.contains("recovery_target_time = '2026-11-23 10:00:00+00'"))
        let second = Restore.recoverySettings(existing: first, restoreCommand: "/bin/walvault --config /c.toml", target: .latest)
        #expect(!second.contains("recovery_target_time ="))
        #expect(second.components(separatedBy: Restore.autoConfBegin).count == 2)
        #expect(second.contains("recovery_target_timeline = 'latest'"))
        #expect(second.contains("recovery_target_action = 'promote'"))
    }

    @Test func quotesAreDoubled() {
        let text = Restore.recoverySettings(existing: "", restoreCommand: "/opt/it's/walvault --config /c.toml", target: .latest)
        #expect(text.contains("restore_command = '/opt/it''s/walvault --config /c.toml archive-get %f \"%p\"'"))
    }
}

@Suite struct BackupExclusionTests {
    @Test(arguments: [
        ("pg_wal", true, BackupExclusions.Decision.includeEmpty), ("pg_stat_tmp", true, .includeEmpty),
        ("pg_replslot", true, .includeEmpty), ("base", true, .include), ("base/pgsql_tmp", true, .skip),
        ("base/1/pgsql_tmp12.3", false, .skip), ("global/pg_internal.init", false, .skip),
        ("postmaster.pid", false, .skip), ("backup_label", false, .skip), ("recovery.signal", false, .skip),
        ("postgresql.auto.conf", false, .include), ("base/1/postmaster.pid", false, .include), ("pg_xact", true, .include)
    ])
    func followsPostgreSQLsList(path: String, isDirectory: Bool, expected: BackupExclusions.Decision) {
        #expect(BackupExclusions.decide(path, isDirectory: isDirectory) == expected)
    }

    @Test func walRunsShowGaps() {
        let segments =
            [2, 3, 4, 7, 8].map { WALSegmentName(timeline: 1, segmentNumber: UInt64($0), segmentSize: mib16) }
            + [WALSegmentName(timeline: 2, segmentNumber: 8, segmentSize: mib16)]
        let runs = WALRuns.runs(segments, segmentSize: mib16)
        #expect(runs.map(\.segments) == [3, 2, 1])
        #expect(runs[1].first == "000000010000000000000007")
    }
}
