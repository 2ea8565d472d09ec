import WalvaultExports
import WalvaultKit

/// `walvault export-logs`: a time range of a log table, exported (and with `--delete-exported`, deleted).
public struct ExportLogsOperation: WalvaultOperation {
    public let options: ExportLogsOptions

    public init(options: ExportLogsOptions) { self.options = options }

    public var kind: OperationKind { .exportLogs }
    public var lifecycle: Lifecycle { Lifecycle(alertCondition: "export-logs of \(options.table)", alertClears: "export-logs") }

    public func run(_ job: JobContext) throws -> ExportLogsResult {
        try ExportLogs(context: job.context, options: options).run(events: job)
    }

    public func queuedFor(_ output: ExportLogsResult) -> [String] { output.queuedFor }
}
