import WalvaultKit
import WalvaultMaintenance

/// `walvault info`: what the stores hold and what is running. It only reads, so it records no
/// history, raises no alert and writes no status file; it is an operation so that the server's
/// page and the CLI get it the same way, cancellable like the rest.
public struct InfoOperation: WalvaultOperation {
    public init() {}

    public var kind: OperationKind { .info }
    public var lifecycle: Lifecycle { Lifecycle(recordsHistory: false) }

    public func run(_ job: JobContext) throws -> InfoReport {
        try InfoReport.gather(context: job.context)
    }
}
