import Synchronization
import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// A backup's numbered parts of one kind (`data` or `map`), each at most `partSize` original bytes
/// in one compressed stream, committed to every store under the SHA-256 of the bytes it stores:
/// the compressed stream is hashed on its way to the stores, a fraction of the original bytes.
package final class PartStream {
    /// The next part number, shared by the streams of one kind in one backup, so numbers stay dense.
    package final class Numbers: @unchecked Sendable {
        private let next = Atomic<Int>(1)
        package init() {}
        package func take() -> Int { next.add(1, ordering: .relaxed).oldValue }
    }

    /// Where appended bytes went: part number, offset in its original bytes, length.
    package struct Placement: Equatable {
        package let part: Int
        package let offset: Int
        package let length: Int
    }

    private let stores: [Store]
    private let directory: String
    private let kind: String
    private let compression: CompressionSettings
    private let partSize: Int
    private let numbers: Numbers
    /// zstd's own threads for the next part, asked as each part opens (`BackupCopier.Cores`).
    private let compressionThreads: @Sendable () -> Int

    /// The parts committed so far, in the order this stream wrote them.
    package private(set) var parts: [BackupManifest.Part] = []
    private var current: OpenPart?

    private struct OpenPart {
        let number: Int
        let writers: [ObjectWriter]
        let compressor: ByteSink
        let storedHash: HashingStage
        var size: Int
    }

    package init(
        stores: [Store], directory: String, kind: String, compression: CompressionSettings, partSize: Int, numbers: Numbers,
        compressionThreads: @escaping @Sendable () -> Int
    ) {
        self.stores = stores
        self.directory = directory
        self.kind = kind
        self.compression = compression
        self.partSize = partSize
        self.numbers = numbers
        self.compressionThreads = compressionThreads
    }

    deinit { abort() }

    /// Bytes the open part still takes (0: none is open, or it is full).
    package var roomInOpenPart: Int { current.map { partSize - $0.size } ?? 0 }
    package var openPartSize: Int { current?.size ?? 0 }

    /// Appends bytes, across part boundaries; `placed` hears where each piece went.
    package func append(_ bytes: UnsafeRawBufferPointer, placed: (Placement) -> Void) throws {
        var offset = 0
        while offset < bytes.count {
            if current == nil { try open() }
            let take = min(bytes.count - offset, partSize - current!.size)
            try current!.compressor.write(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            placed(Placement(part: current!.number, offset: current!.size, length: take))
            current!.size += take
            offset += take
            if current!.size >= partSize { try close() }
        }
    }

    /// Appends bytes to one part whatever their length (a block map is read whole): a new part
    /// is opened first when the open one cannot take them.
    package func appendWhole(_ bytes: UnsafeRawBufferPointer) throws -> Placement {
        if let open = current, open.size > 0, open.size + bytes.count > partSize { try close() }
        if current == nil { try open() }
        try current!.compressor.write(bytes)
        let placement = Placement(part: current!.number, offset: current!.size, length: bytes.count)
        current!.size += bytes.count
        if current!.size >= partSize { try close() }
        return placement
    }

    package func finish() throws {
        if current != nil { try close() }
    }

    /// Throws away the part being written, so a failed backup can be removed whole.
    package func abort() {
        current?.writers.forEach { $0.abort() }
        current = nil
    }

    package static func name(kind: String, number: Int) -> String {
        let digits = String(number)
        return kind + "-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    private func open() throws {
        let writers = try stores.map { try $0.makeWriter(directory: directory) }
        let storedHash = HashingStage(next: StoreFanOut(writers: writers))
        let compressor = try Compression.compressor(
            compression.algorithm, level: compression.level, sizeHint: nil, threads: compressionThreads(), next: storedHash)
        current = OpenPart(number: numbers.take(), writers: writers, compressor: compressor, storedHash: storedHash, size: 0)
    }

    private func close() throws {
        guard let part = current else { return }
        current = nil
        do {
            try part.compressor.finish()
            let base = Self.name(kind: kind, number: part.number)
            let sha256 = part.storedHash.hexDigest!
            let name = StoredObjectName(originalName: base, sha256: sha256, compression: compression.algorithm)
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
            parts.append(.init(name: name.description, number: part.number, size: part.size, storedSize: storedSize, sha256: sha256))
        } catch {
            part.writers.forEach { $0.abort() }
            throw error
        }
    }
}
