import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// Streams one logical export (a schema dump, exported rows) into every sync store at once
/// (SHA-256 of the original bytes ─► compression ─► each store's writer, encryption included),
/// and names it only when the stream has ended well: `ExportObjectName` carries the checksum, so
/// nothing exists under a final name until `commit`. Async stores get a queue entry afterwards,
/// as WAL and backups do.
package final class ExportWriter {
    package struct Stored {
        package let name: ExportObjectName
        package let key: String
        /// Original bytes.
        package let size: Int
        /// Per sync store: the object's size there.
        package let storedSizes: [(store: String, size: Int)]
        package var queuedFor: [String] = []
        /// Why an async store's queue did not take it (full), one sentence each.
        package var notQueued: [String] = []
    }

    private let context: WalvaultContext
    private let stores: [Store]
    private let directory: String
    private let time: Int64
    private let format: ExportFormat
    private let compression: CompressionAlgorithm
    private let writers: [ObjectWriter]
    private let hashing: HashingStage
    private var finished = false

    package init(context: WalvaultContext, directory: String, time: Int64, format: ExportFormat, compression: CompressionAlgorithm, level: Int) throws
    {
        self.context = context
        stores = try context.requireSyncStores(for: format.isDump ? "dump" : "export-logs")
        self.directory = directory
        self.time = time
        self.format = format
        self.compression = compression
        let writers = try stores.map { try $0.makeWriter(directory: directory) }
        self.writers = writers
        do {
            hashing = HashingStage(next: try Compression.compressor(compression, level: level, sizeHint: nil, next: StoreFanOut(writers: writers)))
        } catch {
            writers.forEach { $0.abort() }
            throw error
        }
    }

    deinit { if !finished { abort() } }

    package func write(_ bytes: UnsafeRawBufferPointer) throws { try hashing.write(bytes) }

    package var byteCount: Int { hashing.byteCount }

    /// Throws the stream away: temporary objects only, nothing was named.
    package func abort() {
        finished = true
        writers.forEach { $0.abort() }
    }

    /// Names the object in every sync store, then queues it for the async ones. A store that
    /// fails after another committed takes back the copies already named, so a failed export
    /// leaves nothing under a final name anywhere it can delete.
    package func commit() throws -> Stored {
        finished = true
        do {
            try hashing.finish()
        } catch {
            writers.forEach { $0.abort() }
            throw error
        }
        let name = ExportObjectName(time: time, sha256: hashing.hexDigest!, format: format, compression: compression)
        var committed: [(Store, StoreObject)] = []
        do {
            for (index, (store, writer)) in zip(stores, writers).enumerated() {
                switch try ObjectPlacement.commit(
                    writer, store: store, directory: directory, name: name.description,
                    unlessPrefixTaken: ExportObjectName.prefix(time: time))
                {
                case .stored(let object): committed.append((store, object))
                case .alreadyPresent(let objects):
                    writers[(index + 1)...].forEach { $0.abort() }
                    throw CommandError(
                        problem: "store \"\(store.name)\" already holds \(objects.map(\.key).joined(separator: ", "))",
                        fix: "another export of the same moment finished first; run it again")
                }
            }
        } catch {
            writers.forEach { $0.abort() }
            for (store, object) in committed where store.capabilities.contains(.deletion) { try? store.delete(key: object.key) }
            throw error
        }
        let key = directory + "/" + name.description
        var stored = Stored(name: name, key: key, size: hashing.byteCount, storedSizes: committed.map { ($0.0.name, $0.1.size) })
        if let size = committed.first?.1.size {
            let outcome = try AsyncQueueing(context: context).enqueue([(key, size)], what: key)
            stored.queuedFor = outcome.queuedFor
            stored.notQueued = outcome.refused.map(\.message)
        }
        return stored
    }
}
