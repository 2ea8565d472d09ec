import Synchronization

/// A request to stop, shared by whoever asks (a signal handler in the CLI, a cancel call from the
/// server) and the operation's workers, which look at it between units of work: a file copied, a
/// part restored, an object verified or shipped. Nothing is interrupted half-way, so every
/// guarantee an operation gives on failure (cleanup, no `pg_control`, queue entries kept) holds.
public final class Cancellation: Sendable {
    private let requested = Atomic<Bool>(false)

    public init() {}

    /// Never cancelled: for callers that cannot cancel.
    public static let never = Cancellation()

    public func cancel() { requested.store(true, ordering: .relaxed) }

    public var isCancelled: Bool { requested.load(ordering: .relaxed) }

    /// Throws `OperationCancelled` once cancelled; `doing` names the step for the message.
    public func check(_ doing: String) throws {
        if isCancelled { throw OperationCancelled(step: doing) }
    }
}

/// An operation stopped because it was asked to, between two units of work.
public struct OperationCancelled: Problem, Equatable {
    public let step: String
    public init(step: String) { self.step = step }

    /// Whether `error` is a cancellation, also when wrapped (a backup's cleanup keeps its cause's code).
    public static func isCause(of error: Error) -> Bool { ErrorCodes.of(error) == "operation.cancelled" }
    public var problem: String { "cancelled while \(step)" }
    public var fix: String { "nothing half-done was kept; run it again when ready" }
    public var errorCode: String { "operation.cancelled" }
}
