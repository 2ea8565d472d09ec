import WalvaultKit
import WalvaultRepository
import WalvaultShipping
import WalvaultSystem

/// `walvault ship`: the async stores' queues drained (with `follow`, until cancelled). History is
/// recorded per flush and alerts per pass, from here, so a server's shipper does the same.
public struct ShipOperation: WalvaultOperation {
    public var follow = false
    /// `--catch-up`: first queue what each async store lacks by listing.
    public var catchUp = false

    /// A failed object fails the job (the dashboard's "ship now": a job shown as succeeded has
    /// shipped everything queued). The CLI reports failures itself and exits 1.
    public var failOnFailures = false

    public init(follow: Bool = false, catchUp: Bool = false, failOnFailures: Bool = false) {
        self.follow = follow
        self.catchUp = catchUp
        self.failOnFailures = failOnFailures
    }

    public var kind: OperationKind { .ship }
    public var lifecycle: Lifecycle { Lifecycle(recordsHistory: false) }

    public func run(_ job: JobContext) throws -> Ship.Report {
        let context = job.context
        var ship = Ship(context: context)
        ship.cancellation = job.cancellation
        if catchUp, let spool = try context.trustedSpool {
            for index in context.asyncIndexes {
                let store = context.rawStores[index]
                let added = try ship.catchUp(target: store, queue: try ShippingQueue.open(spool: spool, store: store.name))
                job.note("store \"\(store.name)\": \(added) objects found missing by listing were queued")
            }
        }
        var clock = Stopwatch()
        let services = job.services
        let report = try ship.run(
            follow: follow, progress: { job.receive(.progressed(note: $0)) },
            flushed: { shipped in
                job.recordShipped(shipped, durationMs: clock.milliseconds)
                clock = Stopwatch()
            },
            passed: { pass in
                for (store, error) in pass.failedStores.sorted(by: { $0.key < $1.key }) {
                    services.alertFailed("ship to store \"\(store)\"", error: error, immediate: false, context: context).forEach(job.warn)
                }
                for store in pass.workingStores.subtracting(pass.failedStores.keys) {
                    services.alertSucceeded("ship to store \"\(store)\"", context: context).forEach(job.warn)
                }
                services.checkBackupAge(force: false, context: context).forEach(job.warn)
            })
        guard failOnFailures else { return report }
        if report.busy { job.note("another shipper is running and ships what is queued; nothing was done twice") }
        if let first = report.failures.first {
            let more = report.failures.count > 1 ? " (and \(report.failures.count - 1) more failures)" : ""
            throw CommandError(
                problem: "could not ship: \(first)\(more)",
                fix:
                    "\(report.remaining.values.reduce(0, +)) objects stay queued, nothing is lost; mend the store and ship again (walvault check says which store fails)",
                errorCode: "store.transient")
        }
        if report.cancelled { throw OperationCancelled(step: "shipping") }
        return report
    }
}
