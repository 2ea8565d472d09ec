import WalvaultKit
import WalvaultMaintenance
import WalvaultPolicy
import WalvaultSystem

/// `walvault check`: every figure that says whether a restore would work now. Its findings are
/// its result (the exit status says whether any failed); it records no history and raises no
/// alert of its own but the backup's age, which `Check` asks `Notifier` about itself. The
/// findings are kept as `LastCheck` for the dashboard's overview.
public struct CheckOperation: WalvaultOperation {
    public init() {}

    public var kind: OperationKind { .check }
    public var lifecycle: Lifecycle { Lifecycle(recordsHistory: false) }

    public func run(_ job: JobContext) throws -> [HealthCheck] {
        let checks = Check(context: job.context).run(events: job)
        do {
            try LastCheck(at: WallClock.nowMicros(), checks: checks).save(context: job.context)
        } catch {
            job.note("the findings could not be kept for the dashboard (\(LastCheck.path(context: job.context))): \(error)")
        }
        return checks
    }
}
