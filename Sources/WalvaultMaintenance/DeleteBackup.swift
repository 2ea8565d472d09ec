import WalvaultCatalog
import WalvaultKit
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// What a deletion by hand removed, per store.
public struct DeleteBackupReport: Codable, Equatable, Sendable {
    public struct StoreResult: Codable, Equatable, Sendable {
        public let store: String
        public let deletedObjects: Int
        /// Why the deletion keeps point-in-time recovery whole (`BackupDeletion`).
        public let reason: String
    }

    public let label: String
    public let stores: [StoreResult]
}

/// The dashboard's Delete: one backup out of every store that holds it, when `BackupDeletion`
/// allows it in each of them. Every store is judged before anything is deleted, so a refusal in
/// one leaves them all whole. Then, as expire does, under the cluster lock held exclusively: the
/// manifest and its copy first, then the parts, so an interruption leaves an incomplete backup
/// (parts without a manifest) that expire finishes, never a complete-looking one with holes.
public struct DeleteBackup {
    public let context: WalvaultContext
    public let label: String

    public init(context: WalvaultContext, label: String) {
        self.context = context
        self.label = label
    }

    public func run(events: some OperationObserver) throws -> DeleteBackupReport {
        try events.run("delete-backup", type: .audit, subject: label, summary: { _ in ([], OperationFacts(objectName: label)) }) {
            try delete(now: WallClock.nowMicros())
        }
    }

    /// Every store that holds the backup, each with why the deletion is allowed there; a refusal
    /// from any one throws. Reads only: the dashboard asks it before starting the job, to answer
    /// 409 at once, and the job asks again under the lock.
    public func judge(now: Int64 = WallClock.nowMicros()) throws -> [(store: Store, reason: String)] {
        guard BackupLabel.isValid(label) else {
            throw CommandError(
                problem: "\"\(label)\" is not a backup label", fix: "labels look like 20261204T031500Z; walvault info lists them",
                errorCode: "input.invalid")
        }
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        var allowed: [(store: Store, reason: String)] = []
        for (index, store) in context.stores.enumerated() {
            let inventory = try Inventory.read(stores: [store], layout: layout)
            guard let manifest = inventory.backups.first(where: { $0.label == label }) else { continue }
            let backups = inventory.backups.map(ExpiryPlanner.Backup.init)
            let verdict = BackupDeletion.verdict(
                label: label, backups: backups, segments: Set(inventory.segments.keys), segmentSize: manifest.walSegmentSize,
                days: context.config.retentionDays(store: index), now: now)
            switch verdict {
            case .refused(let because):
                throw CommandError(
                    problem: "backup \(label) in store \"\(store.name)\" is not deleted: \(because)",
                    fix: "take a newer backup first, or let expire remove it when the window allows; nothing was deleted",
                    errorCode: "command.refused")
            case .allowed(let because):
                guard store.capabilities.contains(.deletion) else {
                    throw CommandError(
                        problem: "store \"\(store.name)\" cannot delete objects, so backup \(label) stays in it",
                        fix: "remove it in the store itself; nothing was deleted", errorCode: "command.refused")
                }
                allowed.append((store, because))
            }
        }
        guard !allowed.isEmpty else {
            throw CommandError(
                problem: "no store of cluster \"\(context.config.cluster.name)\" holds a complete backup \(label)",
                fix: "walvault info lists the backups", errorCode: "store.not_found")
        }
        return allowed
    }

    func delete(now: Int64) throws -> DeleteBackupReport {
        guard let lock = try ClusterLock.acquire(.exclusive, config: context.config) else {
            throw CommandError(
                problem:
                    "a backup or a restore of cluster \"\(context.config.cluster.name)\" is running (\(ClusterLock.path(for: context.config)) is locked by \(ClusterLock.holders(config: context.config)))",
                fix: "delete it when that has finished; nothing was deleted", errorCode: "command.refused")
        }
        defer { _ = lock }
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        let allowed = try judge(now: now)
        var results: [DeleteBackupReport.StoreResult] = []
        for (store, reason) in allowed {
            for key in [layout.manifestKey(label), layout.manifestCopyKey(label)] { try store.delete(key: key) }
            var count = 0
            for object in try store.list(directory: layout.backupDirectory(label), namePrefix: "") {
                try store.delete(key: object.key)
                count += 1
            }
            if store.capabilities.contains(.deferredCommit) { _ = try store.flush() }
            results.append(.init(store: store.name, deletedObjects: count, reason: reason))
        }
        return DeleteBackupReport(label: label, stores: results)
    }
}
