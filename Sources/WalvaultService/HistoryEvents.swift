import WalvaultArchive
import WalvaultCatalog
import WalvaultConfig
import WalvaultHistory
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultShipping
import WalvaultStores
import WalvaultSystem

/// Turns an operation's events into history rows. Pure apart from the clock, so the mapping is
/// unit-tested; no command has a mapping of its own.
public enum HistoryEvents {
    static func base(
        _ settings: HistorySettings, _ config: WalvaultConfig, type: HistoryRecord.Kind, operation: String,
        status: HistoryRecord.Status, durationMs: Int, actor: HistoryActor
    ) -> HistoryRecord {
        var record = HistoryRecord(
            projectID: settings.projectID, type: type, operation: operation, status: status,
            retentionDays: status == .succeeded ? settings.retentionDays : nil)
        record.clusterName = config.cluster.name
        record.durationMs = durationMs
        record.actor = actor.name
        record.origin = actor.origin
        return record
    }

    /// An owner's action that stores nothing (a login, a cancel, a verify), or a job its server
    /// left unfinished: who, what, about what, from where, and how it ended.
    public static func auditRow(
        _ settings: HistorySettings, context: WalvaultContext, operation: String, subject: String?, status: HistoryRecord.Status,
        error: JobFailure? = nil, actor: HistoryActor
    ) -> HistoryRecord {
        var record = base(settings, context.config, type: .audit, operation: operation, status: status, durationMs: 0, actor: actor)
        record.durationMs = nil
        record.expiresAt = nil
        record.objectName = subject
        record.error = error?.line
        record.errorCode = error?.code
        return record
    }

    static func fileID(_ context: WalvaultContext, store: String, key: String) -> String {
        let location = context.stores.first { $0.name == store }?.location ?? ""
        return location.isEmpty ? key : Paths.join(location, key)
    }

    /// Rows for objects `ship` made durable in an async store: one per object, its handle (a
    /// Telegram file_id) in `file_id`.
    public static func shippedRows(
        _ settings: HistorySettings, context: WalvaultContext, shipped: [Ship.Shipped], durationMs: Int,
        actor: HistoryActor = .thisProcess
    ) -> [HistoryRecord] {
        shipped.flatMap { object -> [HistoryRecord] in
            // Path components, not String.contains: that would be Foundation's range(of:) here, and ICU.
            let components = object.key.split(separator: "/")
            let parent = components.count >= 4 ? components[components.count - 3] : ""
            let inBackup = parent == "backup"
            var type: HistoryRecord.Kind = inBackup ? .database : .wal
            let name = StoredObjectName(Paths.basename(object.key))
            // A backup's objects are rows of the backup (object_name is the label, as backup writes it).
            var facts = OperationFacts(
                objectName: inBackup ? String(components[components.count - 2]) : name?.originalName ?? Paths.basename(object.key),
                storedSize: object.size, sha256: name?.sha256, fileID: object.handle)
            // A dump's or log export's row names it by its ID (`<schema or table>/<time>`), as dump writes it.
            if parent == "dump" || parent == "logs", let export = ExportObjectName(Paths.basename(object.key)) {
                let subject = String(components[components.count - 2])
                type = parent == "dump" ? .database : .logs
                facts = OperationFacts(
                    objectName: subject + "/" + export.stamp, storedSize: object.size, sha256: export.sha256, fileID: object.handle)
                if parent == "dump" { facts.schema = subject }
            }
            // [[storage]] objects: a snapshot's row names it `<tree>/<id>`, as files backup writes it.
            if let files = components.lastIndex(of: "files"), components.count - files == 3 || components.count - files == 4 {
                type = .storage
                let base = Paths.basename(object.key)
                let snapshot = components.count - files == 4 && base.hasSuffix(ArchiveLayout.snapshotSuffix)
                facts = OperationFacts(
                    objectName: snapshot
                        ? String(components[components.count - 2]) + "/" + String(base.dropLast(ArchiveLayout.snapshotSuffix.count)) : base,
                    storedSize: object.size, fileID: object.handle)
            }
            return rows(
                settings, context: context,
                events: [
                    .started(operation: "ship", type: type, subject: facts.objectName ?? ""),
                    .stored(store: object.store, key: object.key, facts: facts), .succeeded(nil)
                ], durationMs: durationMs,
                actor: actor)
        }
    }

    /// The one mapping, for every operation: a row per object stored, else one row for the
    /// operation's own facts (a restore), or one failed row with the error.
    public static func rows(
        _ settings: HistorySettings, context: WalvaultContext, events: [OperationEvent], durationMs: Int,
        actor: HistoryActor = .thisProcess
    ) -> [HistoryRecord] {
        guard case .started(let operation, let type, let subject)? = events.first else { return [] }
        var rows: [HistoryRecord] = []
        for event in events {
            switch event {
            case .stored(let store, let key, let facts):
                var r = base(settings, context.config, type: type, operation: operation, status: .succeeded, durationMs: durationMs, actor: actor)
                // With [retention], the store's window is the first estimate; expire moves it.
                if let index = context.stores.firstIndex(where: { $0.name == store }), let days = context.config.retentionDays(store: index) {
                    r.expiresAt = r.createdAt + Int64(days) * 86_400_000_000
                }
                r.fileID = facts.fileID ?? fileID(context, store: store, key: key)
                r.storeName = store
                apply(facts, to: &r)
                rows.append(r)
            case .succeeded(let facts?) where rows.isEmpty:
                var r = base(settings, context.config, type: type, operation: operation, status: .succeeded, durationMs: durationMs, actor: actor)
                r.expiresAt = nil
                apply(facts, to: &r)
                rows.append(r)
            case .failed(let error, let code):
                var r = base(settings, context.config, type: type, operation: operation, status: .failed, durationMs: durationMs, actor: actor)
                r.objectName = subject
                r.error = error
                r.errorCode = code
                return [r]
            default:
                break
            }
        }
        return rows
    }

    static func apply(_ facts: OperationFacts, to r: inout HistoryRecord) {
        r.objectName = facts.objectName ?? r.objectName
        r.size = facts.size
        r.storedSize = facts.storedSize
        r.sha256 = facts.sha256
        r.systemIdentifier = facts.systemIdentifier
        r.timeline = facts.timeline
        r.startLSN = facts.startLSN
        r.stopLSN = facts.stopLSN
        r.schemaName = facts.schema
        r.rowCount = facts.rowCount
        r.rangeStart = facts.rangeStart
        r.rangeEnd = facts.rangeEnd
        r.rowsDeleted = facts.rowsDeleted
    }

    /// For a caller holding an archive-push result rather than its events.
    public static func archivePush(
        _ settings: HistorySettings, context: WalvaultContext, walPath: String,
        outcome: Result<ArchivePushResult, Error>, durationMs: Int
    ) -> [HistoryRecord] {
        rows(settings, context: context, events: ArchivePush.events(walPath: walPath, outcome: outcome), durationMs: durationMs)
    }
}
