import WalvaultCatalog
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// Gathers new chunks into packs of up to 16 MiB and stores each pack in every sync store once
/// it is full: 10,000 small files become a few dozen objects, not 10,000 uploads and 10,000
/// Telegram messages. Each chunk is its own zstd frame, so a restore decodes only what it needs.
final class PackWriter {
    private let stores: [Store]
    private let layout: ArchiveLayout
    private let frames: ZstdFrame
    private var buffer: [UInt8] = []
    private var chunks: [PackFormat.Chunk] = []
    private var pending: Set<ChunkID> = []
    /// Every chunk this run stored, with its pack: the run's index object, and what the rest of the run dedupes against.
    private(set) var table = ChunkTable()
    private(set) var packs: [(key: String, size: Int)] = []
    private(set) var storedBytes = 0
    private(set) var newBytes = 0

    init(stores: [Store], layout: ArchiveLayout, level: Int) throws {
        self.stores = stores
        self.layout = layout
        frames = try ZstdFrame(level: level)
        buffer.reserveCapacity(PackFormat.targetSize + (1 << 20))
    }

    /// Compresses a chunk into the current pack, storing the pack first when it is full.
    /// The chunk's location is known once its pack is stored: until then `table` does not have it.
    func add(id: ChunkID, bytes: UnsafeRawBufferPointer) throws {
        if !chunks.isEmpty, buffer.count + Self.bound(bytes.count) > PackFormat.targetSize { try flush() }
        let offset = buffer.count
        let stored = try frames.compress(bytes, appendingTo: &buffer)
        chunks.append(PackFormat.Chunk(id: id, offset: offset, storedLength: stored, length: bytes.count))
        pending.insert(id)
        newBytes += bytes.count
        if buffer.count >= PackFormat.targetSize - (64 << 10) { try flush() }
    }

    /// The most a chunk can take compressed (zstd's bound, with room for its frame header).
    static func bound(_ length: Int) -> Int { length + length >> 8 + (64 << 10) }

    /// Whether `id` waits in the pack not stored yet.
    func isPending(_ id: ChunkID) -> Bool { pending.contains(id) }

    /// Stores the pack being filled, if it holds anything.
    func flush() throws {
        guard !chunks.isEmpty else { return }
        let (body, tail) = PackFormat.trailer(chunks)
        let name = PackFormat.name(trailerSHA256: SHA256Hasher.hex(of: body))
        for store in stores {
            let writer = try store.makeWriter(directory: layout.packDirectory)
            do {
                try buffer.withUnsafeBytes { try writer.write($0) }
                try (body + tail).withUnsafeBytes { try writer.write($0) }
                // The same name is the same chunks in the same order: one already there is this pack.
                _ = try writer.commit(name: name)
            } catch {
                writer.abort()
                throw error
            }
        }
        let size = buffer.count + body.count + tail.count
        packs.append((layout.packKey(name), size))
        storedBytes += size
        for chunk in chunks {
            table.add(id: chunk.id, pack: name, offset: chunk.offset, storedLength: chunk.storedLength, length: chunk.length)
        }
        chunks.removeAll(keepingCapacity: true)
        pending.removeAll(keepingCapacity: true)
        buffer.removeAll(keepingCapacity: true)
    }
}
