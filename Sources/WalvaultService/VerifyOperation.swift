import WalvaultKit
import WalvaultMaintenance

/// `walvault verify`: every object read back and checked. Its findings are its report, not a
/// failure: it records no history row and raises no alert of its own (as before the runner).
public struct VerifyOperation: WalvaultOperation {
    public var storeNames: [String] = []
    public var backupLabel: String?
    public var workers = 2

    public init(storeNames: [String] = [], backupLabel: String? = nil, workers: Int = 2) {
        self.storeNames = storeNames
        self.backupLabel = backupLabel
        self.workers = workers
    }

    public var kind: OperationKind { .verify }
    public var lifecycle: Lifecycle { Lifecycle(recordsHistory: false) }

    public func run(_ job: JobContext) throws -> VerifyReport {
        try Verify(context: job.context, storeNames: storeNames, backupLabel: backupLabel, workers: workers).run(events: job)
    }
}
