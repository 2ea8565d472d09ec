import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// Which chunks a restore needs and where each goes: read pack by pack, each once, in order of
/// offset, decoding only the frames asked for.
struct ChunkPlan: @unchecked Sendable {
    static let readers = 2

    private var uses: [Int: [(file: Int, offset: Int)]] = [:]

    mutating func need(_ chunk: Int, file: Int, offset: Int) { uses[chunk, default: []].append((file, offset)) }

    /// - Returns: how many packs were read.
    func read(table: ChunkTable, from store: Store, layout: ArchiveLayout, keys: ChunkKeys, writer: TreeWriter, cancellation: Cancellation) throws
        -> Int
    {
        var byPack: [Int: [Int]] = [:]
        for chunk in uses.keys { byPack[table.locations[chunk].pack, default: []].append(chunk) }
        let packs = byPack.keys.sorted { table.packs[$0] < table.packs[$1] }
        let plan = self
        let grouped = byPack
        // Two readers, each a pack at a time: one decodes and hashes while the other waits for its bytes.
        let readers = try (0..<Self.readers).map { _ in try PackReader(keys: keys) }
        try ParallelJobs(cancellation: cancellation, doing: "restoring files").run(count: packs.count, workers: Self.readers) { worker, index in
            let pack = packs[index]
            var open = TreeWriter.OpenFile()
            try readers[worker].read(
                pack: table.packs[pack], chunks: grouped[pack]!, of: table, from: store, layout: layout,
                placedAt: { plan.uses[$0]![0].offset }
            ) { chunk, bytes in
                for use in plan.uses[chunk]! { try writer.write(bytes, file: use.file, offset: use.offset, through: &open) }
            }
        }
        return packs.count
    }
}

/// Reads the chunks asked for from one pack, in one pass in order of offset, decoding only their
/// frames and checking each against its name before anyone sees its bytes.
final class PackReader: @unchecked Sendable {
    private let keys: ChunkKeys
    private let frames: ZstdFrame
    private var frame: [UInt8] = []
    /// Where chunks are decoded: page-aligned, one page longer than the largest chunk, so that a
    /// chunk can start at the same place in a page as in its file (`TreeWriter.write`).
    private let plain = UnsafeMutableRawBufferPointer.allocate(
        byteCount: ContentChunker.Sizes.files.maximum + TreeWriter.directAlignment, alignment: TreeWriter.directAlignment)
    private var skip = [UInt8](repeating: 0, count: 1 << 20)

    init(keys: ChunkKeys) throws {
        self.keys = keys
        frames = try ZstdFrame(level: 3)
    }

    deinit { plain.deallocate() }

    /// - Parameters:
    ///   - chunks: indexes into `table` of chunks in this pack.
    ///   - placedAt: where a chunk goes in its (first) file: it is decoded at the same offset within a page.
    func read(
        pack: String, chunks: [Int], of table: ChunkTable, from store: Store, layout: ArchiveLayout, placedAt: (Int) -> Int,
        _ body: (Int, UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let key = layout.packKey(pack)
        let reader: ObjectReader
        do {
            reader = try store.openReader(key: key)
        } catch let error as StoreError where error.kind == .notFound {
            throw CommandError(
                problem: "pack \(key) is missing from store \"\(store.name)\"",
                fix: "restore from another store (--store); walvault verify names every snapshot that needs it", errorCode: "repository.damaged")
        }
        var position = 0
        for chunk in chunks.sorted(by: { table.locations[$0].offset < table.locations[$1].offset }) {
            let location = table.locations[chunk]
            guard location.offset >= position else { continue }  // a damaged table naming one place twice
            while position < location.offset {
                let want = min(skip.count, location.offset - position)
                let count = try skip.withUnsafeMutableBytes { try Self.fill(reader, UnsafeMutableRawBufferPointer(rebasing: $0[0..<want])) }
                guard count > 0 else { throw FilesCatalog.damaged(key, in: store, "it ends before chunk \(table.ids[chunk])") }
                position += count
            }
            guard location.length <= ContentChunker.Sizes.files.maximum else {
                throw FilesCatalog.damaged(key, in: store, "a chunk is larger than any walvault writes")
            }
            // Kept from chunk to chunk: a fresh megabyte each time is a fresh mapping, faulted and
            // zeroed page by page, which cost the restore more than decoding did.
            if frame.count < location.storedLength { frame = [UInt8](repeating: 0, count: max(location.storedLength, 2 << 20)) }
            let stored = location.storedLength
            let count = try frame.withUnsafeMutableBytes { try Self.fill(reader, UnsafeMutableRawBufferPointer(rebasing: $0[0..<stored])) }
            guard count == stored else { throw FilesCatalog.damaged(key, in: store, "it ends inside chunk \(table.ids[chunk])") }
            position += count
            let shift = placedAt(chunk) % TreeWriter.directAlignment
            let out = UnsafeMutableRawBufferPointer(rebasing: plain[shift..<(shift + location.length)])
            do {
                try frame.withUnsafeBytes {
                    try frames.decompress(UnsafeRawBufferPointer(rebasing: $0[0..<stored]), length: location.length, into: out)
                }
            } catch let error as PipelineError {
                throw FilesCatalog.damaged(key, in: store, "chunk \(table.ids[chunk]) does not decode (\(error))")
            }
            let bytes = UnsafeRawBufferPointer(out)
            guard ChunkID(keys.id(of: bytes)) == table.ids[chunk] else {
                throw FilesCatalog.damaged(key, in: store, "chunk \(table.ids[chunk]) does not match its name")
            }
            try body(chunk, bytes)
        }
    }

    /// Reads until `buffer` is full or the object ends.
    static func fill(_ reader: ObjectReader, _ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try StreamPump.fill(buffer, reading: reader.read(into:))
    }
}
