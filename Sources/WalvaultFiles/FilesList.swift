import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// One snapshot as `walvault files list` shows it.
public struct FilesListItem: Codable, Equatable, Sendable {
    public let name: String
    public let id: String
    /// µs since the epoch.
    public let time: Int64
    public let files: Int
    public let bytes: Int
    public let newBytes: Int
    public let newStoredBytes: Int
    public let inconsistent: Int
    /// The stores that hold the snapshot object.
    public let stores: [String]

    init(header: FileSnapshot.Header, stores: [String]) {
        name = header.name
        id = header.id
        time = header.time
        files = header.files
        bytes = header.bytes
        newBytes = header.newBytes
        newStoredBytes = header.newStoredBytes
        inconsistent = header.inconsistent
        self.stores = stores
    }
}

/// `walvault files list`: the snapshots of every tree (or one), oldest first, read from their
/// headers: a snapshot's first bytes, not the whole object.
public struct FilesList {
    public let context: WalvaultContext

    public init(context: WalvaultContext) { self.context = context }

    public func run(name: String?) throws -> [FilesListItem] {
        let catalog = FilesCatalog(layout: ArchiveLayout(cluster: context.config.cluster.name))
        var byKey: [String: (FilesCatalog.SnapshotObject, [String])] = [:]
        for store in context.stores {
            let trees: [String]
            do {
                trees = try name.map { [$0] } ?? catalog.trees(in: store)
            } catch let error as StoreError where error.kind == .permanent && !store.capabilities.contains(.listing) {
                continue
            }
            for tree in trees {
                for snapshot in try catalog.snapshots(of: tree, in: store) {
                    let key = "\(tree)/\(snapshot.id)"
                    byKey[key, default: (snapshot, [])].1.append(store.name)
                }
            }
        }
        return try byKey.keys.sorted().map { key in
            let (snapshot, stores) = byKey[key]!
            return FilesListItem(header: try catalog.header(of: snapshot), stores: stores)
        }
    }

    /// The newest snapshot of each `[[storage]]` tree in the first store that holds one (sync stores
    /// first), read from its header; a tree without any is absent. For check and /metrics.
    public func newest() throws -> [String: FilesListItem] {
        let catalog = FilesCatalog(layout: ArchiveLayout(cluster: context.config.cluster.name))
        let stores = context.storesSyncFirst
        var found: [String: FilesListItem] = [:]
        for tree in context.config.storage {
            for store in stores {
                guard let snapshot = try catalog.snapshots(of: tree.name, in: store).last else { continue }
                found[tree.name] = FilesListItem(header: try catalog.header(of: snapshot), stores: [store.name])
                break
            }
        }
        return found
    }

    public static func lines(_ items: [FilesListItem]) -> [String] {
        guard !items.isEmpty else { return ["no files snapshots (walvault files backup takes one of each [[storage]] tree)"] }
        return items.map { item in
            "\(item.name)/\(item.id)  \(item.files) files  \(FilesText.size(item.bytes))  \(FilesText.size(item.newBytes)) new (\(FilesText.size(item.newStoredBytes)) stored)\(item.inconsistent > 0 ? "  \(item.inconsistent) changed while read" : "")  in \(item.stores.map { "\"\($0)\"" }.joined(separator: ", "))"
        }
    }
}

extension FilesCatalog {
    /// A snapshot's header, from its first bytes: the reading stops once the header is decoded.
    func header(of snapshot: SnapshotObject) throws -> FileSnapshot.Header {
        let sink = FirstBytes(limit: 1 << 20)
        let reader = try snapshot.store.openReader(key: snapshot.object.key)
        do {
            try StreamPump.pump(reading: reader.read(into:), into: try Compression.decompressor(.zstd, next: sink))
        } catch is FirstBytes.Enough {
        } catch let error as PipelineError {
            throw damaged(snapshot.object, in: snapshot.store, "\(error)")
        }
        do {
            let bytes = BinaryReader(bytes: sink.bytes)
            try bytes.expect(FileSnapshot.magic, what: "a walvault file snapshot")
            return try FileSnapshot.decodeHeader(try bytes.byteString(max: 1 << 20))
        } catch let error as BinaryDecodingError {
            throw damaged(snapshot.object, in: snapshot.store, error.reason)
        }
    }
}

/// Keeps the first bytes of a stream and stops it once it has enough.
private final class FirstBytes: ByteSink {
    struct Enough: Error {}
    let limit: Int
    private(set) var bytes: [UInt8] = []
    init(limit: Int) { self.limit = limit }
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        self.bytes.append(contentsOf: bytes.prefix(limit - self.bytes.count))
        if self.bytes.count >= limit || headerComplete { throw Enough() }
    }
    func finish() throws {}

    /// The magic, then a varint length and that many bytes of JSON.
    private var headerComplete: Bool {
        let reader = BinaryReader(bytes: bytes)
        guard (try? reader.expect(FileSnapshot.magic, what: "")) != nil, let length = try? reader.int(max: 1 << 20) else { return false }
        return (try? reader.bytes(length)) != nil
    }
}
