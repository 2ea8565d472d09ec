import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// The `[[storage]]` part of `walvault expire` in one store: which snapshots go (`SnapshotExpiry`),
/// then, once they are gone, the packs no kept snapshot uses. Runs under expire's exclusive
/// cluster lock, which a files backup holds shared.
public struct FilesExpire {
    public let layout: ArchiveLayout
    private var catalog: FilesCatalog { FilesCatalog(layout: layout) }

    public init(cluster: String) { layout = ArchiveLayout(cluster: cluster) }

    /// Every snapshot of every tree in `store`.
    public func snapshots(in store: Store) throws -> [SnapshotExpiry.Snapshot] {
        try catalog.trees(in: store).flatMap { tree in
            try catalog.snapshots(of: tree, in: store).map {
                SnapshotExpiry.Snapshot(tree: tree, id: $0.id, time: UTCTime.parseCompact($0.id)!)
            }
        }
    }

    public struct Deleted: Equatable, Sendable {
        public var snapshots = 0
        public var packs = 0
        public var indexes = 0
        public var objects: Int { snapshots + packs + indexes }
    }

    /// Deletes the snapshots named (`<tree>/<id>`), then sweeps the packs and indexes. A run killed
    /// anywhere in it leaves every kept snapshot whole and every index naming only packs that exist.
    public func delete(_ names: Set<String>, from store: Store, cancellation: Cancellation) throws -> Deleted {
        var deleted = Deleted()
        for snapshot in try snapshots(in: store) where names.contains(snapshot.name) {
            try store.delete(key: layout.snapshotDirectory(snapshot.tree) + "/" + snapshot.id + ArchiveLayout.snapshotSuffix)
            deleted.snapshots += 1
        }
        let kept = try catalog.trees(in: store).flatMap { try catalog.snapshots(of: $0, in: store) }
        let packs = Set(try store.list(directory: layout.packDirectory, namePrefix: "").map(\.name).filter(PackFormat.isName))
        let indexes = Set(
            try store.list(directory: layout.chunkIndexDirectory, namePrefix: "").map(\.name).filter { $0.hasSuffix(ArchiveLayout.chunkIndexSuffix) })
        guard deleted.snapshots > 0 || packs.count > 0 || indexes.count > 1 else { return deleted }
        // What the kept snapshots use, and where: the one index that replaces the others.
        var live = ChunkTable()
        for snapshot in kept {
            try cancellation.check("expire")
            let opened = try catalog.open(snapshot)
            // A pack already missing is not listed: a backup must not count on its chunks.
            for chunk in 0..<opened.table.count where packs.contains(opened.table.packs[opened.table.locations[chunk].pack]) {
                live.add(chunk, of: opened.table)
            }
        }
        let sweep = SnapshotExpiry.sweep(packs: packs, used: Set(live.packs), indexes: indexes)
        var written: String?
        if sweep.writesIndex {
            var writer = BinaryWriter()
            writer.raw(FilesCatalog.indexMagic)
            live.encode(into: &writer)
            let name = StoredObjectName.stamp(WallClock.nowMicros()) + "-" + SHA256Hasher.hex(of: writer.bytes) + ArchiveLayout.chunkIndexSuffix
            _ = try FilesBackup.store(writer.bytes, in: store, directory: layout.chunkIndexDirectory, name: name)
            written = name
        }
        for index in sweep.indexes where index != written {
            try store.delete(key: layout.chunkIndexDirectory + "/" + index)
            deleted.indexes += 1
        }
        for pack in sweep.packs {
            try cancellation.check("expire")
            try store.delete(key: layout.packKey(pack))
            deleted.packs += 1
        }
        return deleted
    }
}
