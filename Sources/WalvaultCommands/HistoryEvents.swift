import WalvaultCatalog
import WalvaultRepository
import WalvaultConfig
import WalvaultHistory
import WalvaultPipeline
import WalvaultStores
import WalvaultSystem

/// Turns what a command did into history rows: one row per object written to a store, or one
/// failed row with the error. Pure apart from the clock, so the mapping is unit-tested.
public enum HistoryEvents {
    static func base(_ settings: HistorySettings, _ config: WalvaultConfig, type: HistoryRecord.Kind, operation: String,
                     status: HistoryRecord.Status, durationMs: Int) -> HistoryRecord {
        var record = HistoryRecord(projectID: settings.projectID, type: type, operation: operation, status: status,
                                   retentionDays: status == .succeeded ? settings.retentionDays : nil)
        record.clusterName = config.cluster.name
        record.durationMs = durationMs
        return record
    }

    static func fileID(_ context: WalvaultContext, store: String, key: String) -> String {
        let location = context.stores.first { $0.name == store }?.location ?? ""
        return location.isEmpty ? key : Paths.join(location, key)
    }

    public static func archivePush(_ settings: HistorySettings, context: WalvaultContext, walPath: String,
                                   outcome: Result<ArchivePushResult, Error>, durationMs: Int) -> [HistoryRecord] {
        switch outcome {
        case .success(let result):
            return result.stored.map { copy in
                var r = base(settings, context.config, type: .wal, operation: "archive-push", status: .succeeded, durationMs: durationMs)
                r.fileID = fileID(context, store: copy.store, key: copy.object.key)
                r.storeName = copy.store
                r.objectName = result.file.description
                r.size = result.originalSize
                r.storedSize = copy.object.size
                r.sha256 = result.sha256
                r.timeline = Int(result.file.timeline)
                return r
            }
        case .failure(let error):
            var r = base(settings, context.config, type: .wal, operation: "archive-push", status: .failed, durationMs: durationMs)
            r.objectName = Paths.basename(walPath)
            r.error = "\(error)"
            return [r]
        }
    }

    public static func backup(_ settings: HistorySettings, context: WalvaultContext, outcome: Result<BackupReport, Error>,
                              durationMs: Int) -> [HistoryRecord] {
        switch outcome {
        case .success(let report):
            let m = report.manifest
            let layout = ArchiveLayout(cluster: context.config.cluster.name)
            let manifestSHA = (try? m.encoded()).map { SHA256Hasher.hex(of: $0) }
            return context.stores.map { store in
                var r = base(settings, context.config, type: .database, operation: "backup", status: .succeeded, durationMs: durationMs)
                r.fileID = fileID(context, store: store.name, key: layout.backupDirectory(m.label))
                r.storeName = store.name
                r.objectName = m.label
                r.size = m.totalSize
                r.storedSize = m.storedSize
                r.sha256 = manifestSHA
                r.systemIdentifier = m.systemIdentifier
                r.timeline = Int(m.timeline)
                r.startLSN = m.startLSN.description
                r.stopLSN = m.stopLSN.description
                return r
            }
        case .failure(let error):
            var r = base(settings, context.config, type: .database, operation: "backup", status: .failed, durationMs: durationMs)
            r.error = "\(error)"
            return [r]
        }
    }

    public static func restore(_ settings: HistorySettings, context: WalvaultContext, outcome: Result<RestoreReport, Error>,
                               durationMs: Int) -> [HistoryRecord] {
        switch outcome {
        case .success(let report):
            var r = base(settings, context.config, type: .database, operation: "restore", status: .succeeded, durationMs: durationMs)
            r.expiresAt = nil
            r.objectName = report.plan.backup.label
            r.size = report.bytes
            r.systemIdentifier = report.plan.backup.systemIdentifier
            r.timeline = Int(report.plan.wal.targetTimeline)
            return [r]
        case .failure(let error):
            var r = base(settings, context.config, type: .database, operation: "restore", status: .failed, durationMs: durationMs)
            r.error = "\(error)"
            return [r]
        }
    }
}
