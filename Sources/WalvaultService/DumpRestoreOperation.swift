import WalvaultExports
import WalvaultKit

/// `walvault dump restore`: a stored dump, verified, restored into a schema.
public struct DumpRestoreOperation: WalvaultOperation {
    public let options: DumpRestoreOptions

    public init(options: DumpRestoreOptions) { self.options = options }

    public var kind: OperationKind { .dumpRestore }
    public var lifecycle: Lifecycle { Lifecycle() }

    public func run(_ job: JobContext) throws -> DumpRestoreResult {
        try DumpRestore(context: job.context, options: options).run(events: job)
    }
}
