import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// What the stores hold of `[[storage]]` trees: their snapshots, and the chunks any earlier
/// `files backup` stored. The one place that reads the files layout back.
struct FilesCatalog {
    let layout: ArchiveLayout

    /// A snapshot object, by its ID (`20261205T030000Z`).
    struct SnapshotObject: Equatable {
        let tree: String
        let id: String
        let object: StoreObject
        let store: Store

        static func == (a: SnapshotObject, b: SnapshotObject) -> Bool { a.object == b.object && a.store === b.store }
    }

    /// The snapshots of `tree` in `store`, oldest first.
    func snapshots(of tree: String, in store: Store) throws -> [SnapshotObject] {
        try store.list(directory: layout.snapshotDirectory(tree), namePrefix: "").compactMap { object in
            guard object.name.hasSuffix(ArchiveLayout.snapshotSuffix) else { return nil }
            let id = String(object.name.dropLast(ArchiveLayout.snapshotSuffix.count))
            guard UTCTime.parseCompact(id) != nil else { return nil }
            return SnapshotObject(tree: tree, id: id, object: object, store: store)
        }.sorted { $0.id < $1.id }
    }

    /// The trees that have snapshots in `store`.
    func trees(in store: Store) throws -> [String] {
        try store.listSubdirectories(directory: layout.snapshotsRoot).sorted()
    }

    /// The chunks the index objects of every one of `stores` list: what a backup need not store
    /// again. A chunk only some stores list (a store added since, or one expire compacted on
    /// another window) does not count, since a snapshot that used it would not restore from the
    /// others. A pack is written alike to every sync store, so a chunk's place is the same in each.
    func knownChunks(in stores: [Store]) throws -> ChunkTable {
        var tables: [ChunkTable] = []
        for store in stores {
            var table = ChunkTable()
            for object in try store.list(directory: layout.chunkIndexDirectory, namePrefix: "")
            where object.name.hasSuffix(ArchiveLayout.chunkIndexSuffix) {
                let index = try readChunkIndex(object, from: store)
                if table.count == 0 {
                    table = index  // after expire, the usual case: one index
                } else {
                    table.reserveCapacity(table.count + index.count)
                    for chunk in 0..<index.count { table.add(chunk, of: index) }
                }
            }
            tables.append(table)
        }
        guard var known = tables.first else { return ChunkTable() }
        if tables.count > 1 {
            var common = ChunkTable()
            for chunk in 0..<known.count where tables.dropFirst().allSatisfy({ $0.index(of: known.ids[chunk]) != nil }) {
                common.add(chunk, of: known)
            }
            known = common
        }
        return known
    }

    func readChunkIndex(_ object: StoreObject, from store: Store) throws -> ChunkTable {
        let sink = MemorySink()
        try read(object, from: store, into: sink, what: "chunk index")
        do {
            let reader = BinaryReader(bytes: sink.bytes)
            try reader.expect(Self.indexMagic, what: "a walvault chunk index")
            let table = try ChunkTable.decode(from: reader)
            guard try reader.isAtEnd() else { throw BinaryDecodingError("bytes follow its end") }
            return table
        } catch let error as BinaryDecodingError {
            throw damaged(object, in: store, error.reason)
        }
    }

    static let indexMagic = Array("WVFINDX1".utf8)

    /// Reads a snapshot into an unnamed local file, decompressed (zstd's frame checksum checks
    /// every byte): its entries are read from there, as many times as needed, in bounded memory.
    func open(_ snapshot: SnapshotObject) throws -> OpenedSnapshot {
        let file = try FileDescriptor.openUnnamed(in: Environment.temporaryDirectory)
        try read(snapshot.object, from: snapshot.store, into: try Compression.decompressor(.zstd, next: FileSink(file: file)), what: "snapshot")
        do {
            return try OpenedSnapshot(file: file, source: snapshot)
        } catch let error as BinaryDecodingError {
            throw damaged(snapshot.object, in: snapshot.store, error.reason)
        }
    }

    private func read(_ object: StoreObject, from store: Store, into sink: ByteSink, what: String) throws {
        let reader = try store.openReader(key: object.key)
        do {
            try StreamPump.pump(reading: reader.read(into:), into: sink)
        } catch let error as PipelineError {
            throw damaged(object, in: store, "\(error)")
        }
    }

    func damaged(_ object: StoreObject, in store: Store, _ why: String) -> CommandError { Self.damaged(object.key, in: store, why) }

    /// The one error for an object of a files repository that does not read back as written
    /// (snapshot, index or pack): which object, which store, why, and that another copy may serve.
    static func damaged(_ key: String, in store: Store, _ why: String) -> CommandError {
        CommandError(
            problem: "\(key) in store \"\(store.name)\" is damaged: \(why)",
            fix: "restore from another store's copy (--store), run walvault verify, and take a new files backup", errorCode: "repository.damaged")
    }
}

/// A snapshot read back: its header and chunk table, and its entries in tree order.
final class OpenedSnapshot {
    let header: FileSnapshot.Header
    let table: ChunkTable
    let source: FilesCatalog.SnapshotObject
    private let file: FileDescriptor
    private var reader: BinaryReader
    private(set) var current: TreeEntry?

    /// Where the entries begin in `file`: another cursor starts there without decoding the table again.
    private let entriesStart: Int

    init(file: FileDescriptor, source: FilesCatalog.SnapshotObject) throws {
        self.file = file
        self.source = source
        reader = Self.reader(file, from: 0)
        (header, table) = try FileSnapshot.decodeStart(from: reader)
        entriesStart = reader.position
        current = try FileSnapshot.nextEntry(from: reader, chunkCount: table.count)
    }

    private init(sharing other: OpenedSnapshot) throws {
        file = other.file
        source = other.source
        header = other.header
        table = other.table
        entriesStart = other.entriesStart
        reader = Self.reader(file, from: entriesStart)
        current = try FileSnapshot.nextEntry(from: reader, chunkCount: table.count)
    }

    private static func reader(_ file: FileDescriptor, from start: Int) -> BinaryReader {
        var offset = start
        return BinaryReader(bufferSize: 1 << 20) { buffer in
            let count = try file.pread(into: buffer, at: offset)
            offset += count
            return count
        }
    }

    /// Another reader of the same snapshot, from its first entry, that moves on its own (and
    /// shares the chunk table).
    func cursor() throws -> OpenedSnapshot { try OpenedSnapshot(sharing: self) }

    /// The next entry, or nil at the end.
    func next() throws -> TreeEntry? {
        guard let entry = current else { return nil }
        current = try FileSnapshot.nextEntry(from: reader, chunkCount: table.count)
        return entry
    }

    /// The entry at `path`, for a walk in the same order: entries before it are passed over for good.
    func entry(at path: [UInt8]) throws -> TreeEntry? {
        while let entry = current, TreePath.precedes(entry.path, path) { current = try FileSnapshot.nextEntry(from: reader, chunkCount: table.count) }
        return current?.path == path ? current : nil
    }
}
