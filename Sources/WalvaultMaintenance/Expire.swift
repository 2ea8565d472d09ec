import WalvaultAlerts
import WalvaultBackup
import WalvaultCatalog
import WalvaultExports
import WalvaultFiles
import WalvaultKit
import WalvaultPolicy
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// What `walvault expire` would keep and delete in each store, and why, as of a moment
/// (`ExpiryPlanner` over each store's own inventory, with that store's window).
public struct ExpireReport: Codable, Equatable, Sendable {
    public struct Item: Codable, Equatable, Sendable {
        /// backup, incomplete backup, segment, dump.
        public let kind: String
        public let name: String
        public let reason: String
    }

    public struct StoreReport: Codable, Equatable, Sendable {
        public let store: String
        public let days: Int
        public let keep: [Item]
        public let delete: [Item]
        /// When each kept backup and segment is due to go (`ExpiryPlanner.due`), for the history's
        /// `expires_at`; thousands of segments, so not in the JSON.
        public var due: [String: Int64] = [:]

        package enum CodingKeys: String, CodingKey { case store, days, keep, delete }

        public init(store: String, days: Int, keep: [Item], delete: [Item], due: [String: Int64] = [:]) {
            self.store = store
            self.days = days
            self.keep = keep
            self.delete = delete
            self.due = due
        }
    }

    public let asOf: String
    public let stores: [StoreReport]
    /// When the stores were read (µs): the history judges only rows written before it.
    public var readAt: Int64 = 0
    /// Set by a run that deleted: the parts and segments removed, per store (manifests not counted).
    public var deletedObjects: [String: Int]? = nil
    /// Stores that cannot delete (their decisions stand, nothing was removed there).
    public var cannotDelete: [String] = []
    /// Per store, objects removed from its catalog whose bytes the service kept (Telegram lets a
    /// bot delete its messages for 48 hours only), with why. Never counted as deleted.
    public var leftBehind: [String: [String: String]] = [:]
    /// Per store, groups deleted whole (Telegram forum topics, with every message in them) and
    /// the bytes each held.
    public var groupsDeleted: [String: [String: Int]] = [:]
    /// Per store, groups nothing kept uses that could not be deleted yet, with why; the next run
    /// (or the next ship) tries again.
    public var groupsLeft: [String: [String: String]] = [:]

    /// Whether what was left in a store is ciphertext (said plainly either way).
    public var encrypted = false

    /// A backup kept today that the same rule deletes within `[retention] notify_before_days`.
    public struct Upcoming: Codable, Equatable, Sendable {
        public let store: String
        public let label: String
        public let by: String
    }
    public var upcoming: [Upcoming] = []

    /// Backups `later` deletes that `self` keeps. Pure.
    public func upcoming(later: ExpireReport, by: String) -> [Upcoming] {
        stores.flatMap { store -> [Upcoming] in
            let kept = Set(store.keep.filter { $0.kind == "backup" }.map(\.name))
            let future = later.stores.first { $0.store == store.store }?.delete.filter { $0.kind == "backup" }.map(\.name) ?? []
            return future.filter(kept.contains).sorted().map { Upcoming(store: store.store, label: $0, by: by) }
        }
    }

    public func json() throws -> String {
        try ReportJSON.encode(self)
    }

    /// Backups one per line with the reason; segments summarised per reason (a 30-day window holds thousands).
    public var text: String {
        var lines = ["as of \(asOf)"]
        for store in stores {
            lines.append("store \"\(store.store)\" (keeps \(store.days) days):")
            for (verb, items) in [("keep", store.keep), ("delete", store.delete)] {
                for item in items where item.kind != "segment" {
                    lines.append("  \(verb) \(item.kind) \(item.name): \(item.reason)")
                }
                let segments = items.filter { $0.kind == "segment" }
                for reason in Set(segments.map(\.reason)).sorted() {
                    let names = segments.filter { $0.reason == reason }.map(\.name).sorted()
                    let range = names.count == 1 ? names[0] : "\(names.first!) .. \(names.last!)"
                    lines.append("  \(verb) \(names.count) WAL segment\(names.count == 1 ? "" : "s") (\(range)): \(reason)")
                }
            }
            if store.keep.isEmpty && store.delete.isEmpty { lines.append("  nothing stored for this cluster") }
            for soon in upcoming where soon.store == store.store {
                lines.append("  backup \(soon.label) will expire by \(soon.by) (notify_before_days)")
            }
            if let deleted = deletedObjects?[store.store] { lines.append("  deleted \(deleted) objects") }
            if let left = leftBehind[store.store], !left.isEmpty {
                let reasons = Set(left.values).sorted().joined(separator: "; ")
                lines.append(
                    "  \(left.count) of them left in the chat, \(encrypted ? "encrypted" : "NOT encrypted: readable by anyone in the chat"), no longer in walvault's catalog (\(reasons)): delete them in Telegram by hand if they must go"
                )
            }
            if let groups = groupsDeleted[store.store], !groups.isEmpty {
                let bytes = groups.values.reduce(0, +)
                lines.append(
                    "  deleted \(groups.count) forum topic\(groups.count == 1 ? "" : "s") with every message in them (\(VerifyReport.megabytes(bytes)) MB): \(groups.keys.sorted().joined(separator: ", "))"
                )
            }
            for (name, why) in (groupsLeft[store.store] ?? [:]).sorted(by: { $0.key < $1.key }) {
                lines.append("  forum topic \"\(name)\" holds nothing kept but was not deleted (\(why)); the next expire or ship tries again")
            }
            if cannotDelete.contains(store.store) { lines.append("  this store cannot delete: nothing was removed from it") }
        }
        return lines.joined(separator: "\n")
    }
}

public struct Expire {
    public let context: WalvaultContext

    public init(context: WalvaultContext) { self.context = context }

    /// With `[retention] notify_before_days`: what the same rule deletes that many days from now,
    /// in the report, and once per backup through `[alerts]`.
    package func notifyUpcoming(_ report: inout ExpireReport, now: Int64) throws {
        guard let days = context.config.retention?.notifyBeforeDays else { return }
        report.upcoming = try upcoming(for: report, now: now)
        guard let notifier = Notifier(context: context) else { return }
        for soon in report.upcoming {
            notifier.noticeOnce(
                key: "expiring \(soon.store) \(soon.label)", about: "backup \(soon.label) in store \"\(soon.store)\" expires within \(days) days",
                detail: "by \(soon.by), under [retention]; walvault expire --dry-run --as-of '\(soon.by)' shows everything that goes then")
        }
    }

    /// What `report` keeps that the rule deletes `notify_before_days` later (empty without it).
    public func upcoming(for report: ExpireReport, now: Int64) throws -> [ExpireReport.Upcoming] {
        guard let days = context.config.retention?.notifyBeforeDays else { return [] }
        let then = now + Int64(days) * 86_400_000_000
        return report.upcoming(later: try plan(asOf: then), by: RecoveryTarget.formatUTC(then))
    }

    public func plan(asOf now: Int64 = WallClock.nowMicros()) throws -> ExpireReport {
        let readAt = WallClock.nowMicros()
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        var reports: [ExpireReport.StoreReport] = []
        var inventories: [Int: Inventory] = [:]
        for (index, store) in context.stores.enumerated() {
            // A store without a window is read only for the chains it may hold; one that cannot be
            // read then is left out of that, not a failure of expire.
            if context.config.retentionDays(store: index) != nil {
                inventories[index] = try Inventory.read(stores: [store], layout: layout)
            } else {
                inventories[index] = try? Inventory.read(stores: [store], layout: layout)
            }
        }
        for (index, store) in context.stores.enumerated() {
            guard let days = context.config.retentionDays(store: index), let inventory = inventories[index] else { continue }
            var segmentSize = inventory.backups.first?.walSegmentSize
            if segmentSize == nil { segmentSize = try ArchiveBinding.load(store: store, layout: layout)?.identity.walSegmentSize }
            let backups = inventory.backups.map(ExpiryPlanner.Backup.init)
            // An incremental in another store may read parts of a backup in this one.
            var neededElsewhere: [String: String] = [:]
            for (other, otherInventory) in inventories where other != index {
                for backup in otherInventory.backups {
                    for label in backup.chain where neededElsewhere[label] == nil {
                        neededElsewhere[label] = "\(backup.label) (in store \"\(context.stores[other].name)\")"
                    }
                }
            }
            let incomplete = Dictionary(uniqueKeysWithValues: inventory.incompleteBackups.map { ($0, BackupLabel.startTime($0)) })
            let decisions = ExpiryPlanner.plan(
                backups: backups, segments: inventory.segments, incomplete: incomplete,
                histories: inventory.histories, segmentSize: segmentSize ?? (16 << 20), days: days, now: now,
                neededElsewhere: neededElsewhere)
            func item(_ decision: ExpiryPlanner.Decision) -> ExpireReport.Item {
                switch decision.subject {
                case .backup(let label): return .init(kind: "backup", name: label, reason: decision.reason)
                case .incompleteBackup(let label): return .init(kind: "incomplete backup", name: label, reason: decision.reason)
                case .segment(let segment): return .init(kind: "segment", name: segment.description, reason: decision.reason)
                }
            }
            // Schema dumps under the same window; the newest of each schema stays.
            let dumps = try ExportListing.list(.dumps, stores: [store], layout: layout).map {
                DumpExpiry.Dump(schema: $0.subject, id: $0.id, time: $0.name.time)
            }
            let dumpDecisions = DumpExpiry.plan(dumps, days: days, now: now)
            func dumpItem(_ decision: DumpExpiry.Decision) -> ExpireReport.Item {
                .init(kind: "dump", name: decision.dump.id, reason: decision.reason)
            }
            // Log exports under [retention] logs_days, when it is set; kept for ever otherwise.
            var logItems: (keep: [ExpireReport.Item], delete: [ExpireReport.Item]) = ([], [])
            var logsDue: [String: Int64] = [:]
            if let logsDays = context.config.retention?.logsDays {
                let exports = try ExportListing.list(.logs, stores: [store], layout: layout).map {
                    LogExportExpiry.Export(id: $0.id, time: $0.name.time)
                }
                for decision in LogExportExpiry.plan(exports, days: logsDays, now: now) {
                    let item = ExpireReport.Item(kind: "log export", name: decision.export.id, reason: decision.reason)
                    if decision.keep { logItems.keep.append(item) } else { logItems.delete.append(item) }
                }
                logsDue = LogExportExpiry.due(exports, days: logsDays)
            }
            // Snapshots of [[storage]] trees under the same window (SnapshotExpiry).
            let snapshots = try FilesExpire(cluster: context.config.cluster.name).snapshots(in: store)
            let snapshotDecisions = SnapshotExpiry.plan(snapshots, days: days, now: now)
            let snapshotItems = snapshotDecisions.map { ExpireReport.Item(kind: "files snapshot", name: $0.snapshot.name, reason: $0.reason) }
            let kept =
                decisions.filter(\.keep).map(item) + dumpDecisions.filter(\.keep).map(dumpItem) + logItems.keep
                + zip(snapshotDecisions, snapshotItems).filter { $0.0.keep }.map(\.1)
            let keptNames = Set(kept.map(\.name))
            var due = ExpiryPlanner.due(
                backups: backups, segments: Array(inventory.segments.keys), segmentSize: segmentSize ?? (16 << 20), days: days, now: now)
            due.merge(DumpExpiry.due(dumps, days: days)) { a, _ in a }
            due.merge(logsDue) { a, _ in a }
            due.merge(SnapshotExpiry.due(snapshots, days: days)) { a, _ in a }
            reports.append(
                .init(
                    store: store.name, days: days, keep: kept,
                    delete: decisions.filter { !$0.keep }.map(item) + dumpDecisions.filter { !$0.keep }.map(dumpItem) + logItems.delete
                        + zip(snapshotDecisions, snapshotItems).filter { !$0.0.keep }.map(\.1),
                    due: due.filter { keptNames.contains($0.key) }))
        }
        guard !reports.isEmpty else {
            throw CommandError(
                problem: "config \(context.config.path): no retention is configured",
                fix: "add [retention] with days = 30 (or retention_days on a store) to say how far back restores must reach")
        }
        var report = ExpireReport(asOf: RecoveryTarget.formatUTC(now), stores: reports)
        report.readAt = readAt
        return report
    }

    /// A moment later than now only forecasts: deleting as if it were then would take backups
    /// that retention still keeps today, so it needs `force`.
    public static func isForecast(asOf moment: Int64, now: Int64, force: Bool) -> Bool {
        moment > now && !force
    }

    /// Plans, then deletes, under the cluster lock held exclusively (a backup or restore running
    /// now holds it shared: expire then refuses, rather than take away what they use). Per backup
    /// the manifest and its copy go first, then the parts: a backup interrupted half-way reads as
    /// incomplete (parts without a manifest), never as complete, and the next run finishes it.
    public func run(asOf now: Int64 = WallClock.nowMicros()) throws -> ExpireReport {
        guard let lock = try ClusterLock.acquire(.exclusive, config: context.config) else {
            throw CommandError(
                problem:
                    "a backup or a restore of cluster \"\(context.config.cluster.name)\" is running (\(ClusterLock.path(for: context.config)) is locked by \(ClusterLock.holders(config: context.config)))",
                fix: "run expire again when it has finished; nothing was deleted")
        }
        defer { _ = lock }
        var report = try plan(asOf: now)
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        var deleted: [String: Int] = [:]
        for storeReport in report.stores {
            guard let store = context.stores.first(where: { $0.name == storeReport.store }) else { continue }
            guard store.capabilities.contains(.deletion) else {
                report.cannotDelete.append(store.name)
                continue
            }
            var count = 0
            for item in storeReport.delete where item.kind == "backup" || item.kind == "incomplete backup" {
                let directory = layout.backupDirectory(item.name)
                for key in [layout.manifestKey(item.name), layout.manifestCopyKey(item.name)] {
                    try store.delete(key: key)
                }
                for object in try store.list(directory: directory, namePrefix: "") {
                    try store.delete(key: object.key)
                    count += 1
                }
            }
            for (kind, listing) in [("dump", ExportListing.Kind.dumps), ("log export", .logs)] {
                let ids = Set(storeReport.delete.filter { $0.kind == kind }.map(\.name))
                guard !ids.isEmpty else { continue }
                for export in try ExportListing.list(listing, stores: [store], layout: layout) where ids.contains(export.id) {
                    for copy in export.copies {
                        try store.delete(key: copy.object.key)
                        count += 1
                    }
                }
            }
            // Snapshots first, then the packs no kept snapshot uses (and any a killed backup left).
            let expiredSnapshots = Set(storeReport.delete.filter { $0.kind == "files snapshot" }.map(\.name))
            count += try FilesExpire(cluster: context.config.cluster.name).delete(expiredSnapshots, from: store, cancellation: .never).objects
            // Only the WAL directories that hold something to delete are listed.
            let segments = Set(storeReport.delete.filter { $0.kind == "segment" }.compactMap { WALSegmentName($0.name) })
            for directory in Set(segments.map { layout.directory(for: .segment($0)) }).sorted() {
                for object in try store.list(directory: directory, namePrefix: "") {
                    guard let name = StoredObjectName(object.name), case .segment(let segment)? = WALFileName(name.originalName),
                        segments.contains(segment)
                    else { continue }
                    try store.delete(key: object.key)
                    count += 1
                }
            }
            if store.capabilities.contains(.deferredCommit) {
                // The deletions are one new catalog; only then are documents deleted in the chat.
                let flushed = try store.flush()
                report.leftBehind[store.name] = flushed.leftBehind
                report.groupsDeleted[store.name] = flushed.groupsDeleted
                report.groupsLeft[store.name] = flushed.groupsLeft
                count -= flushed.leftBehind.keys.filter { !ShipPlan.isManifest($0) }.count
            }
            deleted[store.name] = count
        }
        report.encrypted = context.keyRing != nil
        report.deletedObjects = deleted
        try notifyUpcoming(&report, now: now)
        return report
    }
}
