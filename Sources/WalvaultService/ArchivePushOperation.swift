import WalvaultArchive
import WalvaultKit
import WalvaultStores

/// `walvault archive-push %p`, PostgreSQL's archive_command: the file durable in every sync store
/// (or confirmed there by push-ahead), queued for the async ones. Its failures alert after a streak
/// (PostgreSQL retries), per store; a full queue is a history row of its own, never a failure.
public struct ArchivePushOperation: WalvaultOperation {
    public let walPath: String

    public init(walPath: String) { self.walPath = walPath }

    public struct Output: Sendable {
        public let result: ArchivePushResult
        /// Push-ahead had stored it already, and its checksum was confirmed.
        public let confirmed: Bool
    }

    public var kind: OperationKind { .archivePush }
    public var lifecycle: Lifecycle { Lifecycle(alertCondition: "archive-push", alertImmediately: false) }

    public func alertCondition(for error: Error) -> String? {
        (error as? StoreError).map { "archive-push to store \"\($0.store)\"" } ?? "archive-push"
    }

    public func run(_ job: JobContext) throws -> Output {
        let pushed = PushAhead(context: job.context).run(walPath: walPath, events: job)
        if let warning = pushed.warning { job.warn(warning) }
        let result = try pushed.result.get()
        for skipped in result.notQueuedFor {
            if skipped.warnNow { job.warn(skipped.message) }
            job.recordHistory(
                [
                    .started(operation: "queue", type: .wal, subject: result.file.description),
                    .failed(error: "store \"\(skipped.store)\": \(skipped.message)", code: "ship.queue_full")
                ], durationMs: 0)
        }
        return Output(result: result, confirmed: pushed.confirmed)
    }

    public func queuedFor(_ output: Output) -> [String] { output.result.queuedFor }
}
