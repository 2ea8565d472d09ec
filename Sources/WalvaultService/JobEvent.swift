import WalvaultBackup
import WalvaultKit
import WalvaultStores
import WalvaultSystem

/// One event of one job, as every observer (the CLI's presenter, the server's event stream) sees
/// it: which job, when, and what happened.
public struct JobEvent: Sendable {
    public let jobID: String
    public let operation: OperationKind
    /// µs since the epoch.
    public let time: Int64
    public let payload: Payload

    public enum Payload: Sendable, Equatable {
        case started
        case progress(ProgressReport)
        /// A sentence about what was done (the plan restore follows, a phase's summary).
        case note(String)
        case warning(String)
        case stored(store: String, key: String)
        case finished(JobStatus.State, JobFailure?)
    }
}

/// A failure as data: what failed, what to do, the stable code and the store it happened in.
public struct JobFailure: Sendable, Equatable {
    public let problem: String
    public let fix: String
    public let code: String
    public let store: String?

    public init(_ error: Error) {
        if let problem = error as? Problem {
            self.problem = problem.problem
            fix = problem.fix
        } else {
            problem = "\(error)"
            fix = ""
        }
        code = ErrorCodes.of(error)
        store = (error as? StoreError)?.store ?? ((error as? BackupFailure)?.underlying as? StoreError)?.store
    }

    /// The one line a person reads.
    public var line: String { fix.isEmpty ? problem : "\(problem); \(fix)" }
}

/// Receives a job's events, from whichever thread emitted them.
public protocol JobObserver: Sendable {
    func receive(_ event: JobEvent)
}
