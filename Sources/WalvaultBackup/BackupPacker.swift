import Synchronization
import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Streams data-directory files into numbered parts of at most `partSize` original bytes,
/// each one compressed stream committed to every store, and records where every byte of every
/// file went. A relation file of 1 GiB simply spans many parts. Several packers may fill one
/// backup at once, each on its own thread: they draw part numbers from one `PartNumbers`, so the
/// numbers stay dense and a file's chunks simply name whichever parts its packer wrote.
package final class BackupPacker {
    package static let defaultPartSize = 16 << 20

    /// The next part number, shared by the packers of one backup.
    package final class PartNumbers: @unchecked Sendable {
        private let next = Atomic<Int>(1)
        package func take() -> Int { next.add(1, ordering: .relaxed).oldValue }
    }

    private let stores: [Store]
    private let directory: String
    private let compression: CompressionSettings
    private let partSize: Int
    private let numbers: PartNumbers
    private let compressionThreads: Int
    /// Counts the bytes read, for the backup's progress; set for the copy phase.
    package var meter: ProgressMeter?
    package var cancellation = Cancellation.never
    private let buffer: UnsafeMutableRawBufferPointer

    /// The parts this packer committed, and their numbers (in the order it wrote them).
    private(set) var parts: [BackupManifest.Part] = []
    private(set) var partNumbers: [Int] = []
    private var current: OpenPart?

    private struct OpenPart {
        let index: Int
        let writers: [ObjectWriter]
        let hashing: HashingStage
        var size: Int
    }

    /// - Parameter compressionThreads: zstd's own threads for this packer (0: compress in its thread).
    package init(
        stores: [Store], directory: String, compression: CompressionSettings, partSize: Int = BackupPacker.defaultPartSize,
        numbers: PartNumbers = PartNumbers(), compressionThreads: Int = ZstdCompressStage.defaultWorkers
    ) {
        self.stores = stores
        self.directory = directory
        self.compression = compression
        self.partSize = partSize
        self.numbers = numbers
        self.compressionThreads = compressionThreads
        buffer = .allocate(byteCount: StreamPump.chunkSize, alignment: 64)
    }

    deinit {
        abort()
        buffer.deallocate()
    }

    /// Throws away the part being written (its temporary objects), so a failed backup can be removed whole.
    package func abort() {
        current?.writers.forEach { $0.abort() }
        current = nil
    }

    /// Copies one file; returns nil when it vanished before it could be opened (PostgreSQL
    /// dropped it meanwhile, which WAL replay accounts for).
    package func add(path: String, relative: String, mode: UInt32) throws -> BackupManifest.Entry? {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.openForReading(path)
        } catch let error as SystemError where error.code == ENOENT {
            return nil
        }
        file.adviseSequential()
        let hasher = SHA256Hasher()
        var chunks: [BackupManifest.Chunk] = []
        var size = 0
        while true {
            try cancellation.check("copying \(relative)")
            let n = try file.read(into: buffer)
            if n == 0 { break }
            meter?.add(Int64(n))
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            size += n
            var offset = 0
            while offset < n {
                if current == nil { try openPart() }
                let take = min(n - offset, partSize - current!.size)
                try current!.hashing.write(UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + take)]))
                if let last = chunks.last, last.part == current!.index, last.offset + last.length == current!.size {
                    chunks[chunks.count - 1].length += take
                } else {
                    chunks.append(.init(part: current!.index, offset: current!.size, length: take))
                }
                current!.size += take
                offset += take
                if current!.size == partSize { try closePart() }
            }
        }
        meter?.add(0, files: 1)
        return BackupManifest.Entry(path: relative, kind: .file, mode: mode, size: size, sha256: hasher.finalizeHex(), chunks: chunks)
    }

    package func finish() throws {
        if current != nil { try closePart() }
    }

    private func openPart() throws {
        let writers = try stores.map { try $0.makeWriter(directory: directory) }
        let compressor = try Compression.compressor(
            compression.algorithm, level: compression.level, sizeHint: nil,
            threads: compressionThreads, next: StoreFanOut(writers: writers))
        current = OpenPart(index: numbers.take(), writers: writers, hashing: HashingStage(next: compressor), size: 0)
    }

    private func closePart() throws {
        guard let part = current else { return }
        current = nil
        do {
            try part.hashing.finish()
            let base = Self.partName(part.index)
            let name = StoredObjectName(originalName: base, sha256: part.hashing.hexDigest!, compression: compression.algorithm)
            var storedSize = 0
            for (store, writer) in zip(stores, part.writers) {
                switch try ObjectPlacement.commit(writer, store: store, directory: directory, name: name.description, unlessPrefixTaken: base + "-") {
                case .stored(let object): storedSize = object.size
                case .alreadyPresent(let objects):
                    throw CommandError(
                        problem: "backup part \(objects.map(\.key).joined(separator: ", ")) already exists",
                        fix: "another backup with the same label is running; retry in a second")
                }
            }
            parts.append(.init(name: name.description, size: part.size, storedSize: storedSize, sha256: part.hashing.hexDigest!))
            partNumbers.append(part.index)
        } catch {
            part.writers.forEach { $0.abort() }
            throw error
        }
    }

    package static func partName(_ index: Int) -> String {
        let digits = String(index)
        return "part-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }
}
