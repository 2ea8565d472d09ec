import WalvaultConfig
import WalvaultFiles
import WalvaultKit

/// `walvault files backup`: one snapshot of one `[[storage]]` tree, each tree its own job,
/// history rows and alert, like the dumps of `--all-tenants`.
public struct FilesBackupOperation: WalvaultOperation {
    public let tree: StorageSettings

    public init(tree: StorageSettings) { self.tree = tree }

    public var kind: OperationKind { .filesBackup }
    public var lifecycle: Lifecycle { Lifecycle(alertCondition: "files backup of \(tree.name)") }

    public func run(_ job: JobContext) throws -> FilesSnapshotResult {
        try FilesBackup(context: job.context).run(tree, events: job)
    }

    public func queuedFor(_ output: FilesSnapshotResult) -> [String] { output.queuedFor }
}

/// `walvault files restore`: a snapshot, or part of it, into a directory.
public struct FilesRestoreOperation: WalvaultOperation {
    public let options: FilesRestoreOptions

    public init(options: FilesRestoreOptions) { self.options = options }

    public var kind: OperationKind { .filesRestore }
    public var lifecycle: Lifecycle { Lifecycle() }

    public func run(_ job: JobContext) throws -> FilesRestoreResult {
        try FilesRestore(context: job.context, options: options).run(events: job)
    }
}
