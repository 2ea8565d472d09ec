import WalvaultCatalog
import WalvaultExports
import WalvaultKit

/// `walvault dump`: one schema, through pg_dump, into every store. `--all-tenants` is one of these
/// per schema, each its own job, history row and alert.
public struct DumpOperation: WalvaultOperation {
    public let schema: String
    public let options: DumpOptions

    public init(schema: String, options: DumpOptions) {
        self.schema = schema
        self.options = options
    }

    public var kind: OperationKind { .dump }
    /// A name from the database: shown escaped in the alert, so an escape code in it cannot drive a terminal.
    public var lifecycle: Lifecycle { Lifecycle(alertCondition: "dump of schema \(SQLIdentifier.shown(schema))") }

    public func run(_ job: JobContext) throws -> DumpResult {
        try Dump(context: job.context, options: options).run(schema: schema, events: job)
    }

    public func queuedFor(_ output: DumpResult) -> [String] { output.queuedFor }
}
