import WalvaultDrill
import WalvaultKit

/// `walvault drill`: a restore into a private directory, started and checked.
public struct DrillOperation: WalvaultOperation {
    public let options: DrillOptions

    public init(options: DrillOptions) { self.options = options }

    public var kind: OperationKind { .drill }
    public var lifecycle: Lifecycle { Lifecycle(alertCondition: "restore drill", alertClears: "drill") }

    public func run(_ job: JobContext) throws -> DrillReport {
        try Drill(context: job.context, options: options).run(events: job)
    }
}
