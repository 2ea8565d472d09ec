import Synchronization
import WalvaultKit
import WalvaultMaintenance
import WalvaultSystem

/// Runs an operation and everything around it, in one order for every caller (the CLI, cron, the
/// server): the status file and the `started` event; the operation; its history rows; its alert
/// or recovery; after a backup, the shipper for its async stores and expire (whose failure is a
/// warning: the backup stands); the backup-age check; the status file's end and `finished`.
public struct OperationRunner: Sendable {
    public var services: any JobServices
    /// Who the history and status files name; nil: this process's user, looked up only when a
    /// row or a status file needs it (archive-push without `[history]` never asks the user database).
    public var actor: HistoryActor?

    public init(services: any JobServices = LiveServices(), actor: HistoryActor? = nil) {
        self.services = services
        self.actor = actor
    }

    private static let sequence = Atomic<Int>(0)

    /// - Parameter cancellation: cancel it (from a signal handler, another thread, a server's
    ///   cancel call) to stop the operation between units of work.
    public func run<Operation: WalvaultOperation>(
        _ operation: Operation, context: WalvaultContext, observers: [any JobObserver] = [],
        cancellation: Cancellation = Cancellation()
    ) -> JobOutcome<Operation.Output> {
        let id = JobStatusDirectory.newID(sequence: Self.sequence.add(1, ordering: .relaxed).newValue)
        let job = JobContext(
            context: context, id: id, operation: operation.kind, cancellation: cancellation, actor: actor,
            services: services, observers: observers)
        let clock = Stopwatch()
        job.start()
        let result = Result { try operation.run(job) }
        let lifecycle = operation.lifecycle
        var outcome = JobOutcome(jobID: id, result: result)

        if lifecycle.recordsHistory { job.recordHistory(job.events, durationMs: clock.milliseconds) }
        switch result {
        case .success(let output):
            if let condition = lifecycle.alertCondition {
                services.alertSucceeded(lifecycle.alertClears ?? condition, context: context).forEach(job.warn)
            }
            if !operation.queuedFor(output).isEmpty, let warning = services.startShipper(context: context) { job.warn(warning) }
            if lifecycle.expiresAfter, context.config.stores.indices.contains(where: { context.config.retentionDays(store: $0) != nil }) {
                do {
                    let report = try services.expire(context: context)
                    outcome.expired = report
                    if let warning = services.recordExpiry(report, context: context) { job.warn(warning) }
                } catch {
                    outcome.expireFailure = JobFailure(error)
                    job.warn("the \(operation.kind.rawValue) is complete, but expire failed: \(error)")
                }
            }
        case .failure(let error):
            if let condition = operation.alertCondition(for: error) {
                services.alertFailed(condition, error: "\(error)", immediate: lifecycle.alertImmediately, context: context).forEach(job.warn)
            }
        }
        if lifecycle.checksBackupAge { services.checkBackupAge(force: true, context: context).forEach(job.warn) }

        switch result {
        case .success: job.finish(.succeeded, failure: nil)
        case .failure(let error):
            job.finish(cancellation.isCancelled || OperationCancelled.isCause(of: error) ? .cancelled : .failed, failure: JobFailure(error))
        }
        return outcome
    }
}

/// What a job came to: the operation's own result, and what the runner did after it.
public struct JobOutcome<Output: Sendable>: Sendable {
    public let jobID: String
    public let result: Result<Output, Error>
    /// Expire's report when it ran after the operation.
    public var expired: ExpireReport?
    public var expireFailure: JobFailure?

    public var failure: JobFailure? {
        if case .failure(let error) = result { return JobFailure(error) }
        return nil
    }

    public var wasCancelled: Bool {
        if case .failure(let error) = result { return OperationCancelled.isCause(of: error) }
        return false
    }
}
