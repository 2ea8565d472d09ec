import Testing
import WalvaultCatalog
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

/// The layout read backwards, and the one walk of a cluster's objects every command reads.
@Suite struct ClusterListingTests {
    let layout = ArchiveLayout(cluster: "main")
    let sha = String(repeating: "a", count: 64)

    @Test func everyKeyTheLayoutBuildsIsClassifiedBackToWhatItIs() throws {
        let segment = try #require(WALFileName("000000010000000000000002"))
        let key = layout.directory(for: segment) + "/000000010000000000000002-\(sha).zst"
        #expect(layout.classify(key) == .wal(segment, inItsDirectory: true))
        #expect(layout.classify("main/wal/0000000200000000/000000010000000000000002-\(sha).zst") == .wal(segment, inItsDirectory: false))
        #expect(layout.classify("main/wal/000000010000000000000002-\(sha).zst") == .wal(segment, inItsDirectory: false))
        let history = try #require(WALFileName("00000002.history"))
        #expect(layout.classify("main/wal/00000002.history-\(sha).zst") == .wal(history, inItsDirectory: true))
        #expect(layout.classify(layout.infoKey) == .archiveInfo && layout.classify(layout.infoCopyKey) == .archiveInfo)
        #expect(layout.classify(layout.manifestKey("L1")) == .backupManifest(label: "L1"))
        #expect(layout.classify(layout.manifestCopyKey("L1")) == .backupManifest(label: "L1"))
        #expect(
            layout.classify(layout.backupDirectory("L1") + "/part-000001-\(sha).zst") == .backupObject(label: "L1", name: "part-000001-\(sha).zst"))
        #expect(layout.classify(layout.dumpDirectory("tenant_a") + "/x.dump") == .dump(schema: "tenant_a", name: "x.dump"))
        #expect(layout.classify(layout.logsDirectory("events") + "/x.jsonl") == .logs(table: "events", name: "x.jsonl"))
        for foreign in ["other/wal/000000010000000000000002-\(sha).zst", "main/wal/notes.txt", "main/backup/L1", "main/elsewhere/x", "main"] {
            #expect(layout.classify(foreign) == .unknown, "\(foreign)")
        }
    }

    @Test func oneListingHoldsWALBackupsAndExports() throws {
        let store = MemoryStore(name: "m")
        let keys = [
            "main/wal/00000002.history-\(sha).zst", "main/wal/0000000100000000/000000010000000000000002-\(sha).zst",
            "main/backup/L1/part-000001-\(sha).zst", "main/backup/L1/backup.manifest",
            "main/dump/tenant_a/20261118T110640000000Z-\(sha).dump"
        ]
        for key in keys { _ = try store.createSmall(key: key, contents: [1]) }
        let bare = try ClusterListing.read(store, layout: layout)
        #expect(bare.backupLabels == ["L1"] && bare.backupObjects.isEmpty && bare.exportObjects.isEmpty)
        #expect(bare.walObjects.map(\.key).sorted() == keys.prefix(2).sorted())
        let full = try ClusterListing.read(store, layout: layout, backupObjects: true, exports: true)
        #expect(full.allObjects.map(\.key).sorted() == keys.sorted())
        #expect(try bare.withBackupObjects(store, layout: layout).backupObjects["L1"]?.count == 2)
    }
}
