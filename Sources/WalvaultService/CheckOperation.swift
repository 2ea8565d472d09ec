import WalvaultKit
import WalvaultMaintenance
import WalvaultPolicy

/// `walvault check`: every figure that says whether a restore would work now. Its findings are
/// its result (the exit status says whether any failed); it records no history and raises no
/// alert of its own but the backup's age, which `Check` asks `Notifier` about itself.
public struct CheckOperation: WalvaultOperation {
    public init() {}

    public var kind: OperationKind { .check }
    public var lifecycle: Lifecycle { Lifecycle(recordsHistory: false) }

    public func run(_ job: JobContext) throws -> [HealthCheck] {
        Check(context: job.context).run(events: job)
    }
}
