import Synchronization
import WalvaultCatalog
import WalvaultKit
import WalvaultPolicy
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// Which `ObjectGroup` each object joins in an async store with `.groupDeletion` (a Telegram chat
/// with forum topics): a backup's objects join that backup's group, WAL the backup it follows
/// (`ObjectGroupPlan`). The backups come from the first sync store; each manifest is read once.
final class ShipGroups: Sendable {
    let context: WalvaultContext
    private let backups = Mutex<[ObjectGroupPlan.Backup<UInt64>]>([])

    init(context: WalvaultContext) { self.context = context }

    /// The sync store's backups as of now: labels listed, starts read from manifests not yet read
    /// (a backup without one is still running, or was abandoned: it claims WAL by time).
    func refresh() throws {
        guard let store = context.syncStores.first else { return }
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        let known = backups.withLock { Dictionary($0.map { ($0.label, $0) }) { a, _ in a } }
        var next: [ObjectGroupPlan.Backup<UInt64>] = []
        for label in try store.listSubdirectories(directory: layout.backupRoot) {
            guard let startTime = BackupLabel.startTime(label) else { continue }
            if let backup = known[label], backup.start != nil {
                next.append(backup)
                continue
            }
            var start: UInt64?
            if let bytes = try store.readSmall(key: layout.manifestKey(label)), let manifest = try? BackupManifest.decode(bytes) {
                start = Self.position(of: manifest.startSegment())
            }
            next.append(ObjectGroupPlan.Backup(label: label, start: start, startTime: startTime))
        }
        backups.withLock { $0 = next }
    }

    /// nil: the object goes to the store's common place (the archive's binding, timeline and
    /// backup histories, exports, WAL older than every backup).
    func group(of key: String, source: Store) throws -> ObjectGroup? {
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        let label: String?
        switch layout.classify(key) {
        case .backupManifest(let owner), .backupObject(let owner, _):
            label = owner
        case .wal(let file, _):
            // Only segments: expire deletes nothing else of the WAL (timeline and backup
            // histories, partial segments), and one of them would keep its topic forever.
            guard case .segment(let segment) = file else { return nil }
            let all = backups.withLock { $0 }
            let storedAt = all.contains { $0.start == nil } ? try source.head(key: key)?.modifiedAt : nil
            label = ObjectGroupPlan.owner(of: Self.position(of: segment), storedAt: storedAt, backups: all)
        default:
            label = nil
        }
        return label.map { ObjectGroup(name: "walvault \(context.config.cluster.name) \($0)") }
    }

    /// A segment's place in the WAL, whatever its timeline: log and segment, as one number.
    static func position(of segment: WALSegmentName) -> UInt64 { UInt64(segment.log) << 32 | UInt64(segment.segment) }
}
