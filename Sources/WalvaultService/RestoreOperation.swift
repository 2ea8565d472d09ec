import WalvaultBackup
import WalvaultKit

/// `walvault restore`: a data directory from a backup, ready to replay WAL to the target.
public struct RestoreOperation: WalvaultOperation {
    public let options: RestoreOptions

    public init(options: RestoreOptions) { self.options = options }

    public var kind: OperationKind { .restore }
    public var lifecycle: Lifecycle { Lifecycle(alertCondition: "restore") }

    public func run(_ job: JobContext) throws -> RestoreReport {
        try Restore(context: job.context, options: options).run(events: job)
    }
}
