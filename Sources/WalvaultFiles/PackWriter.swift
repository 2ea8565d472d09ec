import Synchronization
import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// Gathers new chunks into packs of up to 16 MiB and stores each pack in every sync store once
/// it is full: 10,000 small files become a few dozen objects, not 10,000 uploads and 10,000
/// Telegram messages. Each chunk is its own zstd frame, so a restore decodes only what it needs.
///
/// Three threads overlap: the caller reads, cuts and names chunks; a compressor streams each
/// chunk's frame into the stores' writers of the pack it fills; a committer ends each full pack
/// (its trailer, then the commit: a local store's fsync, an upload's last part) while the next
/// fills. No pack is held in memory: at most 8 MiB of chunks wait for the compressor, plus one
/// frame. A failure in either worker stops the other and is what `add` or `finish` throws.
final class PackWriter: @unchecked Sendable {
    /// A pack whose frames are all written: what is left is its trailer and the commit.
    private struct Pack: @unchecked Sendable {
        let writers: [ObjectWriter]
        let chunks: [PackFormat.Chunk]
        let length: Int
    }

    private let stores: [Store]
    private let layout: ArchiveLayout
    private let level: Int
    private let chunksIn = HandOff<(ChunkID, [UInt8])>(capacity: 8)
    private let packsOut = HandOff<Pack>(capacity: 1)
    private let failure = Mutex<(any Error)?>(nil)
    private var workers: [JoinableThread] = []
    /// What the caller sent to be stored and is not stored yet: never sent twice.
    private var sent: Set<ChunkID> = []
    private var finished = false

    /// Read after `finish` (the workers' writes are ordered before it by the join).
    private(set) var table = ChunkTable()
    private(set) var packs: [(key: String, size: Int)] = []
    private(set) var storedBytes = 0
    private(set) var newBytes = 0

    init(stores: [Store], layout: ArchiveLayout, level: Int) throws {
        self.stores = stores
        self.layout = layout
        self.level = level
        workers = [JoinableThread { self.compress() }, JoinableThread { self.upload() }]
    }

    deinit { if !finished { abort() } }

    /// Whether `id` was sent to be stored by this run (stored or on its way).
    func isPending(_ id: ChunkID) -> Bool { sent.contains(id) }

    /// Sends a new chunk to be compressed into a pack.
    func add(id: ChunkID, bytes: [UInt8]) throws {
        sent.insert(id)
        newBytes += bytes.count
        guard chunksIn.put((id, bytes), weight: Self.weight(bytes.count)) else { throw firstFailure() }
    }

    /// Stores the last pack and waits for both workers. - Throws: the first failure of either.
    func finish() throws {
        finished = true
        chunksIn.close()
        workers.forEach { $0.join() }
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// Stops both workers (the walk failed or was cancelled); packs already stored stay, unused.
    func abort() {
        finished = true
        chunksIn.abandon()
        packsOut.abandon()
        workers.forEach { $0.join() }
    }

    private func firstFailure() -> any Error {
        failure.withLock { $0 } ?? CommandError(problem: "the files backup stopped", fix: "run it again")
    }

    private func fail(_ error: any Error) {
        failure.withLock { if $0 == nil { $0 = error } }
        chunksIn.abandon()
        packsOut.abandon()
    }

    private var failed: Bool { failure.withLock { $0 != nil } }

    /// A chunk's share of the compressor's queue: its MiB, at least one.
    static func weight(_ length: Int) -> Int { max(1, (length + (1 << 20) - 1) >> 20) }

    private func compress() {
        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: ZstdFrame.bound(ContentChunker.Sizes.files.maximum), alignment: 64)
        defer { frame.deallocate() }
        var writers: [ObjectWriter] = []
        var chunks: [PackFormat.Chunk] = []
        var length = 0
        func ship() -> Bool {
            guard !chunks.isEmpty else { return true }
            let queued = packsOut.put(Pack(writers: writers, chunks: chunks, length: length), weight: 1)
            if !queued { writers.forEach { $0.abort() } }
            writers = []
            chunks.removeAll(keepingCapacity: true)
            length = 0
            return queued
        }
        do {
            let frames = try ZstdFrame(level: level)
            while let (id, bytes) = chunksIn.take() {
                if !chunks.isEmpty, length + Self.bound(bytes.count) > PackFormat.targetSize, !ship() { return }
                let stored = try bytes.withUnsafeBytes { try frames.compress($0, into: frame) }
                if writers.isEmpty {
                    do {
                        for store in stores { writers.append(try store.makeWriter(directory: layout.packDirectory)) }
                    } catch {
                        writers.forEach { $0.abort() }
                        throw error
                    }
                }
                do {
                    let raw = UnsafeRawBufferPointer(rebasing: frame[0..<stored])
                    for writer in writers { try writer.write(raw) }
                } catch {
                    writers.forEach { $0.abort() }
                    throw error
                }
                chunks.append(PackFormat.Chunk(id: id, offset: length, storedLength: stored, length: bytes.count))
                length += stored
                if length >= PackFormat.targetSize - (64 << 10), !ship() { return }
            }
            guard !failed else {
                writers.forEach { $0.abort() }
                return
            }
            if ship() { packsOut.close() }
        } catch {
            fail(error)
        }
    }

    private func upload() {
        do {
            while let pack = packsOut.take() {
                try commit(pack)
            }
        } catch {
            fail(error)
        }
    }

    private func commit(_ pack: Pack) throws {
        let (body, tail) = PackFormat.trailer(pack.chunks)
        let name = PackFormat.name(trailerSHA256: SHA256Hasher.hex(of: body))
        do {
            for writer in pack.writers {
                try (body + tail).withUnsafeBytes { try writer.write($0) }
                // The same name is the same chunks in the same order: one already there is this pack.
                _ = try writer.commit(name: name)
            }
        } catch {
            pack.writers.forEach { $0.abort() }
            throw error
        }
        let size = pack.length + body.count + tail.count
        packs.append((layout.packKey(name), size))
        storedBytes += size
        for chunk in pack.chunks {
            table.add(id: chunk.id, pack: name, offset: chunk.offset, storedLength: chunk.storedLength, length: chunk.length)
        }
    }

    /// The most a chunk can take compressed (zstd's bound, with room for its frame header).
    static func bound(_ length: Int) -> Int { length + length >> 8 + (64 << 10) }
}
