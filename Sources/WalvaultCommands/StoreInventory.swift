import WalvaultCatalog
import WalvaultPipeline
import WalvaultStores
import WalvaultSystem

/// What the stores hold for one cluster, read from the stores alone: complete backups, timeline
/// histories and archived WAL segments. Several stores are merged; the first store listing an
/// item is where it is read from.
struct StoreInventory {
    var backups: [BackupManifest] = []
    var backupStore: [String: Store] = [:]
    var histories: [UInt32: TimelineHistory] = [:]
    var segments: [WALSegmentName: Int64] = [:]
    /// Backup directories with no manifest: interrupted or still running.
    var incompleteBackups: [String] = []

    static func read(stores: [Store], layout: ArchiveLayout) throws -> StoreInventory {
        var inventory = StoreInventory()
        for store in stores {
            for label in try store.listSubdirectories(directory: layout.backupRoot) where inventory.backupStore[label] == nil {
                guard let bytes = try readManifest(store: store, layout: layout, label: label) else {
                    if !inventory.incompleteBackups.contains(label) { inventory.incompleteBackups.append(label) }
                    continue
                }
                do {
                    inventory.backups.append(try BackupManifest.decode(bytes))
                } catch {
                    throw CommandError(problem: "the manifest of backup \(label) in store \"\(store.name)\" is unreadable (\(error))",
                                       fix: "restore \(layout.manifestCopyKey(label)) over it, or choose another backup with --backup")
                }
                inventory.backupStore[label] = store
                inventory.incompleteBackups.removeAll { $0 == label }
            }
            for object in try store.list(directory: layout.walRoot, namePrefix: "") {
                guard let name = StoredObjectName(object.name), case .history(let timeline)? = WALFileName(name.originalName),
                      inventory.histories[timeline] == nil else { continue }
                let text = String(decoding: try ObjectFetcher.fetchSmall(object, from: store), as: UTF8.self)
                guard let history = TimelineHistory(timeline: timeline, text: text) else {
                    throw CommandError(problem: "timeline history \(object.key) in store \"\(store.name)\" cannot be parsed", fix: "compare it with the server's pg_wal/\(name.originalName)")
                }
                inventory.histories[timeline] = history
            }
            for directory in try store.listSubdirectories(directory: layout.walRoot) {
                for object in try store.list(directory: layout.walRoot + "/" + directory, namePrefix: "") {
                    guard let name = StoredObjectName(object.name), case .segment(let segment)? = WALFileName(name.originalName) else { continue }
                    let at = object.modifiedAt ?? Int64.max
                    inventory.segments[segment] = min(inventory.segments[segment] ?? at, at)
                }
            }
        }
        return inventory
    }

    /// The manifest, or its copy when the manifest itself is missing or fails to decrypt.
    static func readManifest(store: Store, layout: ArchiveLayout, label: String) throws -> [UInt8]? {
        do {
            if let bytes = try store.readSmall(key: layout.manifestKey(label)) { return bytes }
        } catch let error as EncryptionError where error.kind == .wrongPassphraseOrDamaged {
            guard let copy = try? store.readSmall(key: layout.manifestCopyKey(label)) else { throw error }
            return copy
        }
        return try store.readSmall(key: layout.manifestCopyKey(label))
    }
}
