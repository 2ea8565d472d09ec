import Dispatch
import Synchronization
import WalvaultCatalog
import WalvaultKit
import WalvaultSystem

/// A thread that names and stores the chunks of one large file at a time, in the order they are
/// submitted, while the walk reads and cuts the next. The walk waits for it at the end of each
/// file (`finishFile`), so the two never store a chunk at the same moment.
///
/// Chunks travel in buffers kept for the next chunk (at most `kept`): a fresh megabyte each time
/// is a fresh mapping from the kernel, zeroed page by page, which cost more than the hashing saved.
final class ChunkHasher: @unchecked Sendable {
    private struct Chunk: @unchecked Sendable {
        let buffer: UnsafeMutableRawBufferPointer
        let length: Int
    }

    private let queue = HandOff<Chunk>(capacity: 4)
    private let fileDone = DispatchSemaphore(value: 0)
    private let store: (UnsafeRawBufferPointer) throws -> ChunkID
    private var thread: JoinableThread?
    private let free = Mutex<[Chunk]>([])
    private static let kept = 3
    /// Written by the hasher's thread, read by the walk after `fileDone`.
    private var ids: [ChunkID] = []
    private var failure: (any Error)?

    init(store: @escaping (UnsafeRawBufferPointer) throws -> ChunkID) { self.store = store }

    deinit {
        for chunk in free.withLock({ $0 }) { chunk.buffer.deallocate() }
    }

    func submit(_ bytes: UnsafeRawBufferPointer) throws {
        start()
        let buffer =
            free.withLock { kept in
                kept.firstIndex { $0.buffer.count >= bytes.count }.map { kept.remove(at: $0).buffer }
            } ?? .allocate(byteCount: max(bytes.count, 1 << 20), alignment: 64)
        UnsafeMutableRawBufferPointer(rebasing: buffer[0..<bytes.count]).copyMemory(from: bytes)
        let chunk = Chunk(buffer: buffer, length: bytes.count)
        guard queue.put(chunk, weight: min(4, max(1, (bytes.count + (1 << 20) - 1) >> 20))) else {
            buffer.deallocate()
            throw failure ?? CommandError(problem: "the files backup stopped", fix: "run it again")
        }
    }

    /// Waits for every chunk submitted since the last call. - Returns: their names, in order.
    func finishFile() throws -> [ChunkID] {
        start()
        guard queue.put(Chunk(buffer: UnsafeMutableRawBufferPointer(start: nil, count: 0), length: 0), weight: 1) else {
            throw failure ?? CommandError(problem: "the files backup stopped", fix: "run it again")
        }
        fileDone.wait()
        if let failure { throw failure }
        defer { ids.removeAll(keepingCapacity: true) }
        return ids
    }

    func stop() {
        guard let thread else { return }
        queue.close()
        thread.join()
    }

    private func start() {
        guard thread == nil else { return }
        thread = JoinableThread {
            while let chunk = self.queue.take() {
                guard chunk.length > 0 else {
                    self.fileDone.signal()
                    continue
                }
                if self.failure == nil {
                    do {
                        self.ids.append(try self.store(UnsafeRawBufferPointer(rebasing: chunk.buffer[0..<chunk.length])))
                    } catch {
                        self.failure = error
                    }
                }
                let keep = self.free.withLock { kept -> Bool in
                    guard kept.count < Self.kept else { return false }
                    kept.append(chunk)
                    return true
                }
                if !keep { chunk.buffer.deallocate() }
            }
        }
    }
}
