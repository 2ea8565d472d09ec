import WalvaultKit
import WalvaultMaintenance

/// The dashboard's Delete: one backup out of every store, when point-in-time recovery inside the
/// window survives it (`BackupDeletion`). Its history row is an audit row: who deleted what, from where.
public struct DeleteBackupOperation: WalvaultOperation {
    public let label: String

    public init(label: String) { self.label = label }

    public var kind: OperationKind { .deleteBackup }
    public var lifecycle: Lifecycle { Lifecycle() }

    public func run(_ job: JobContext) throws -> DeleteBackupReport {
        try DeleteBackup(context: job.context, label: label).run(events: job)
    }
}
