import WalvaultKit

/// One kind of work as a value: its inputs are its properties, and `run` does it under a job.
/// What happens around it (history, alerts, expire, the shipper, the status file) is the
/// runner's, driven by `lifecycle`, so no caller can forget any of it.
public protocol WalvaultOperation: Sendable {
    associatedtype Output: Sendable
    var kind: OperationKind { get }
    var lifecycle: Lifecycle { get }
    func run(_ job: JobContext) throws -> Output
    /// Async stores the output left queued for: the runner starts the shipper for them.
    func queuedFor(_ output: Output) -> [String]
    /// The alert condition this failure raises (archive-push names the store that failed).
    func alertCondition(for error: Error) -> String?
}

extension WalvaultOperation {
    public func queuedFor(_ output: Output) -> [String] { [] }
    public func alertCondition(for error: Error) -> String? { lifecycle.alertCondition }
}

/// What the runner does around an operation.
public struct Lifecycle: Sendable, Equatable {
    /// The alert condition a failure raises and a success clears; nil: not alerted.
    public var alertCondition: String?
    /// What a success clears: every condition starting with it (nil: the condition itself).
    public var alertClears: String?
    /// Alert on the first failure (an operation a person or cron started), not after a streak
    /// (`[alerts] after_failures`, for archive-push, which PostgreSQL retries).
    public var alertImmediately = true
    /// Record the operation's events in `[history]`.
    public var recordsHistory = true
    /// Run expire after a success when `[retention]` is set (a backup, unless `--no-expire`).
    public var expiresAfter = false
    /// Check the newest backup's age afterwards, success or failure (a backup).
    public var checksBackupAge = false

    public init(
        alertCondition: String? = nil, alertClears: String? = nil, alertImmediately: Bool = true, recordsHistory: Bool = true,
        expiresAfter: Bool = false,
        checksBackupAge: Bool = false
    ) {
        self.alertCondition = alertCondition
        self.alertClears = alertClears
        self.alertImmediately = alertImmediately
        self.recordsHistory = recordsHistory
        self.expiresAfter = expiresAfter
        self.checksBackupAge = checksBackupAge
    }
}
