import WalvaultCatalog
import WalvaultStores

/// One store's listing of one cluster: its WAL (the root, where timeline histories live, and each
/// timeline-and-log directory), its backups' labels and, when asked, each backup's objects and
/// the exports. The one walk of the layout that inventory, verify, ship's catch-up and info read,
/// so a new directory in the layout is added here once.
public struct ClusterListing: Sendable {
    public var walObjects: [StoreObject] = []
    public var backupLabels: [String] = []
    /// Each backup's objects, by label; empty unless `backupObjects` was asked for.
    public var backupObjects: [String: [StoreObject]] = [:]
    /// Schema dumps and log exports; empty unless `exports` was asked for.
    public var exportObjects: [StoreObject] = []

    /// - Parameters:
    ///   - backupObjects: list each backup's directory too (one more call per backup).
    ///   - exports: list the dump and logs directories too.
    public static func read(_ store: Store, layout: ArchiveLayout, backupObjects: Bool = false, exports: Bool = false) throws -> ClusterListing {
        var listing = ClusterListing()
        listing.backupLabels = try store.listSubdirectories(directory: layout.backupRoot).sorted()
        if backupObjects {
            for label in listing.backupLabels {
                listing.backupObjects[label] = try store.list(directory: layout.backupDirectory(label), namePrefix: "")
            }
        }
        listing.walObjects = try store.list(directory: layout.walRoot, namePrefix: "")
        for directory in try store.listSubdirectories(directory: layout.walRoot).sorted() {
            listing.walObjects += try store.list(directory: layout.walRoot + "/" + directory, namePrefix: "")
        }
        if exports {
            for kind in [ExportListing.Kind.dumps, .logs] {
                for export in try ExportListing.list(kind, stores: [store], layout: layout) {
                    listing.exportObjects += export.copies.map(\.object)
                }
            }
        }
        return listing
    }

    /// The same listing with each backup's objects (one call per backup), for one already read without them.
    public func withBackupObjects(_ store: Store, layout: ArchiveLayout) throws -> ClusterListing {
        var listing = self
        for label in backupLabels where listing.backupObjects[label] == nil {
            listing.backupObjects[label] = try store.list(directory: layout.backupDirectory(label), namePrefix: "")
        }
        return listing
    }

    /// The names each backup directory holds across several stores' listings (read with backup
    /// objects): whether a part a backup restores from is in any store.
    public static func objectNamesByBackup<Listings: Sequence>(_ listings: Listings) -> [String: Set<String>]
    where Listings.Element == ClusterListing {
        var names: [String: Set<String>] = [:]
        for listing in listings {
            for (label, objects) in listing.backupObjects { names[label, default: []].formUnion(objects.map(\.name)) }
        }
        return names
    }

    /// Every object listed.
    public var allObjects: [StoreObject] {
        walObjects + backupLabels.flatMap { backupObjects[$0] ?? [] } + exportObjects
    }
}
