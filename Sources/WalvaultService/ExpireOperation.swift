import WalvaultKit
import WalvaultMaintenance
import WalvaultSystem

/// `walvault expire`: what is past each store's window, deleted (or, `dryRun`, only planned, with
/// what comes due next). A run that deleted moves the history's `expired_at` and `expires_at`.
public struct ExpireOperation: WalvaultOperation {
    /// The moment the window is measured from (µs); nil: now.
    public var asOf: Int64?
    public var dryRun: Bool

    public init(asOf: Int64? = nil, dryRun: Bool = false) {
        self.asOf = asOf
        self.dryRun = dryRun
    }

    public var kind: OperationKind { .expire }
    public var lifecycle: Lifecycle { Lifecycle(recordsHistory: false) }

    public func run(_ job: JobContext) throws -> ExpireReport {
        let expire = Expire(context: job.context)
        let moment = asOf ?? WallClock.nowMicros()
        if dryRun {
            var report = try expire.plan(asOf: moment)
            report.upcoming = try expire.upcoming(for: report, now: moment)
            return report
        }
        let report = try expire.run(asOf: moment)
        if let warning = job.services.recordExpiry(report, context: job.context) { job.warn(warning) }
        return report
    }
}
