import WalvaultBackup
import WalvaultKit

/// `walvault restore`: a data directory from a backup, ready to replay WAL to the target.
public struct RestoreOperation: WalvaultOperation {
    public let options: RestoreOptions
    /// In place: the current data directory goes here first (`InPlaceRestore`); nil: a new directory.
    public let setAsideTo: String?

    public init(options: RestoreOptions, setAsideTo: String? = nil) {
        self.options = options
        self.setAsideTo = setAsideTo
    }

    public var kind: OperationKind { .restore }
    public var lifecycle: Lifecycle { Lifecycle(alertCondition: "restore") }

    public func run(_ job: JobContext) throws -> RestoreReport {
        if let setAsideTo { return try InPlaceRestore(context: job.context, options: options, aside: setAsideTo).run(events: job) }
        return try Restore(context: job.context, options: options).run(events: job)
    }
}
