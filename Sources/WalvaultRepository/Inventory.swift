import WalvaultCatalog
import WalvaultPipeline
import WalvaultStores
import WalvaultSystem

/// What the stores hold for one cluster, read from the stores alone: complete backups, timeline
/// histories and archived WAL segments. Several stores are merged; the first store with a good
/// copy of an item is where it is read from. One damaged object costs at most the item it holds
/// (a backup, a timeline history): it is reported with its reason, and planning goes around it.
public struct Inventory {
    /// Every complete backup as a summary (`BackupManifest.isSummary`): `manifest(_:)` reads the
    /// one a restore or an incremental needs whole.
    public internal(set) var backups: [BackupManifest] = []
    public internal(set) var backupStore: [String: Store] = [:]
    public internal(set) var histories: [UInt32: TimelineHistory] = [:]
    /// History files that no store could deliver as a valid history, with why.
    public internal(set) var unreadableHistories: [UInt32: String] = [:]
    /// When each segment was archived: the time walvault recorded in its name, else the store's.
    public internal(set) var segments: [WALSegmentName: Int64] = [:]
    /// Segments timed by the store's modification time only (archived before walvault recorded times).
    public internal(set) var segmentsTimedByStore: Set<WALSegmentName> = []
    /// Backup directories with no manifest: interrupted or still running.
    public internal(set) var incompleteBackups: [String] = []
    /// Backups whose every manifest copy, in every store, is unreadable, with why.
    public internal(set) var damagedBackups: [String: String] = [:]

    /// What one store holds of the archive (WAL and histories), for `info` and health checks.
    public struct WALHoldings: Equatable, Sendable {
        public internal(set) var objects = 0
        public internal(set) var bytes = 0
        public internal(set) var newestSegment: WALSegmentName?
    }

    /// By store name.
    public internal(set) var walHoldings: [String: WALHoldings] = [:]

    /// Each store's listing of the cluster (backup labels and WAL), by store name: what info reads
    /// instead of listing again.
    public internal(set) var listings: [String: ClusterListing] = [:]
    /// Stores that could not be read, with why (`read(…, skippingUnreadable: true)` only).
    public internal(set) var unreadableStores: [String: String] = [:]

    /// - Parameter skippingUnreadable: for `info` and health checks, which must still report on
    ///   the other stores while one is unreachable, and for restore, which names the skipped store
    ///   in its plan. When no store can be read, the first store's error is thrown.
    public static func read(stores: [Store], layout: ArchiveLayout, skippingUnreadable: Bool = false) throws -> Inventory {
        guard skippingUnreadable else { return try read(stores: stores, layout: layout) }
        var merged = Inventory()
        var readable: [Store] = []
        var firstError: StoreError?
        for store in stores {
            do {
                _ = try store.listSubdirectories(directory: layout.backupRoot)
                readable.append(store)
            } catch let error as StoreError {
                merged.unreadableStores[store.name] = error.problem
                firstError = firstError ?? error
            }
        }
        // With no store readable there is nothing to report from: the first error is the answer.
        if readable.isEmpty, let firstError { throw firstError }
        let inventory = try read(stores: readable, layout: layout)
        let unreadable = merged.unreadableStores
        merged = inventory
        merged.unreadableStores = unreadable
        return merged
    }

    public static func read(stores: [Store], layout: ArchiveLayout) throws -> Inventory {
        var inventory = Inventory()
        var manifestProblems: [String: [String]] = [:]
        var historyProblems: [UInt32: [String]] = [:]
        var labels: Set<String> = []
        var untimed: Set<WALSegmentName> = []
        for store in stores {
            let listing = try ClusterListing.read(store, layout: layout)
            inventory.listings[store.name] = listing
            labels.formUnion(listing.backupLabels)
            for label in listing.backupLabels where inventory.backupStore[label] == nil {
                switch readManifest(store: store, layout: layout, label: label, entries: false) {
                case .found(let manifest):
                    inventory.backups.append(manifest)
                    inventory.backupStore[label] = store
                case .missing:
                    break
                case .damaged(let reasons):
                    manifestProblems[label, default: []] += reasons
                }
            }
            var holdings = WALHoldings()
            defer { inventory.walHoldings[store.name] = holdings }
            for object in listing.walObjects {
                holdings.objects += 1
                holdings.bytes += object.size
                // Only what sits where restore looks for it counts (verify names the rest).
                switch layout.classify(object.key) {
                case .wal(.segment(let segment), inItsDirectory: true):
                    let archivedAt = StoredObjectName(object.name)?.archivedAt
                    if holdings.newestSegment.map({ $0 < segment }) ?? true { holdings.newestSegment = segment }
                    let at = archivedAt ?? object.modifiedAt ?? Int64.max
                    if archivedAt == nil { untimed.insert(segment) }
                    inventory.segments[segment] = min(inventory.segments[segment] ?? at, at)
                case .wal(.history(let timeline), inItsDirectory: true) where inventory.histories[timeline] == nil:
                    do {
                        let text = String(decoding: try ObjectFetcher.fetchSmall(object, from: store), as: UTF8.self)
                        guard let history = TimelineHistory(timeline: timeline, text: text) else {
                            historyProblems[timeline, default: []].append("\(object.key) in store \"\(store.name)\" is not a valid timeline history")
                            continue
                        }
                        inventory.histories[timeline] = history
                    } catch {
                        historyProblems[timeline, default: []].append("\(error)")
                    }
                default:
                    continue
                }
            }
        }
        for label in labels.sorted() where inventory.backupStore[label] == nil {
            if let reasons = manifestProblems[label] {
                inventory.damagedBackups[label] = reasons.joined(separator: "; ")
            } else {
                inventory.incompleteBackups.append(label)
            }
        }
        inventory.segmentsTimedByStore = untimed
        for (timeline, reasons) in historyProblems where inventory.histories[timeline] == nil {
            inventory.unreadableHistories[timeline] = reasons.joined(separator: "; ")
        }
        return inventory
    }

    public enum ManifestLookup {
        case found(BackupManifest)
        /// Neither the manifest nor its copy exists: the backup never finished.
        case missing
        case damaged([String])
    }

    /// The manifest, or its copy when the manifest is missing, unreadable, undecryptable or not
    /// this backup's. Never throws: whatever is wrong with one backup is that backup's problem.
    /// - Parameter entries: false reads a summary.
    public static func readManifest(store: Store, layout: ArchiveLayout, label: String, entries: Bool = true) -> ManifestLookup {
        var problems: [String] = []
        var sawAny = false
        for key in [layout.manifestKey(label), layout.manifestCopyKey(label)] {
            do {
                guard let bytes = try store.readSmall(key: key) else { continue }
                sawAny = true
                let manifest = try BackupManifest.decode(bytes, entries: entries)
                guard manifest.label == label else {
                    problems.append("\(key) in store \"\(store.name)\" describes backup \(manifest.label), not \(label)")
                    continue
                }
                return .found(manifest)
            } catch let error as DecodingError {
                sawAny = true
                problems.append("\(key) in store \"\(store.name)\" cannot be parsed (\(Self.summary(error)))")
            } catch {
                sawAny = true
                problems.append("\(error)")
            }
        }
        return sawAny ? .damaged(problems) : .missing
    }

    /// Backup `label`'s manifest whole, read again from the store its summary came from (the
    /// manifest, or its copy when the manifest went bad since).
    public func manifest(_ label: String, layout: ArchiveLayout) throws -> BackupManifest {
        guard let store = backupStore[label] else {
            throw CatalogError(problem: "no store holds a complete backup \(label)", fix: "walvault info lists the backups")
        }
        switch Self.readManifest(store: store, layout: layout, label: label) {
        case .found(let manifest):
            return manifest
        case .missing:
            throw CatalogError(
                problem: "backup \(label)'s manifest vanished from store \"\(store.name)\" while walvault read it",
                fix: "another walvault (expire, delete) may have removed it: walvault info lists the backups")
        case .damaged(let reasons):
            throw CatalogError(
                problem: "backup \(label)'s manifest cannot be read again: \(reasons.joined(separator: "; "))",
                fix: "walvault verify names the damage; choose another backup with --backup")
        }
    }

    /// The listing of each store the inventory could read, by store name, with every backup
    /// directory's objects (one more listing per backup and store): what a chain's damage, a
    /// prior's block maps and the stores' sizes are read from, once.
    public func listingsWithBackupObjects(stores: [Store], layout: ArchiveLayout) throws -> [String: ClusterListing] {
        var listings: [String: ClusterListing] = [:]
        for store in stores where unreadableStores[store.name] == nil {
            guard let listing = try self.listings[store.name]?.withBackupObjects(store, layout: layout) else { continue }
            listings[store.name] = listing
        }
        return listings
    }

    /// DecodingError's own description runs to several lines of context; one phrase is enough.
    public static func summary(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty: return "not valid JSON"
        case .dataCorrupted(let context):
            return "bad value at \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        case .keyNotFound(let key, _): return "no \"\(key.stringValue)\""
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "bad value at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        @unknown default: return "unreadable"
        }
    }
}

extension Store {
    /// The stored objects of one archived WAL file (one, or identical copies after a race), by one
    /// listing of its directory: what archive-push, backup and check ask of a store.
    public func objects(of file: WALFileName, layout: ArchiveLayout) throws -> [StoreObject] {
        try list(directory: layout.directory(for: file), namePrefix: StoredObjectName.prefix(for: file.description))
    }

    /// The one copy of a WAL file to read, from one listing: identical copies (a race that a
    /// store without deletion could not undo) are one file; copies with different contents are
    /// not a file at all, and are returned for the caller to name.
    public func copyToRead(of file: WALFileName, layout: ArchiveLayout) throws -> WALCopy {
        let candidates = try objects(of: file, layout: layout).compactMap { object in
            StoredObjectName(object.name).flatMap { $0.originalName == file.description ? (object, $0) : nil }
        }
        guard let (object, name) = candidates.min(by: { $0.0.name < $1.0.name }) else { return .none }
        guard Set(candidates.map(\.1.sha256)).count == 1 else { return .different(candidates.map(\.0)) }
        return .one(object, name)
    }
}

/// What one store holds under a WAL file's name (`Store.copyToRead`).
public enum WALCopy {
    case none
    case one(StoreObject, StoredObjectName)
    case different([StoreObject])
}
