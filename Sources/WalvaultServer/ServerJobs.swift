import Dispatch
import Synchronization
import WalvaultHistory
import WalvaultKit
import WalvaultPolicy
import WalvaultService
import WalvaultSystem

/// The jobs this server started. Each runs through `OperationRunner` on a thread of its own, so it
/// outlives the request (and the browser tab) that started it, writes the same status file and
/// history rows as a job the CLI started, and names the owner and the client's address. The
/// request gets the job's id as soon as the runner has written its status file.
public final class ServerJobs: Sendable {
    private struct Running {
        var cancellations: [String: Cancellation] = [:]
        /// Kinds started here whose status file may not be written yet, so that two requests in
        /// the same instant cannot both pass the overlap check.
        var starting: [Int: OperationKind] = [:]
        var nextTicket = 0
    }

    private let running = Mutex(Running())

    public init() {}

    /// Hands the job's id to the request once, from the first event or, failing that, the end.
    private final class IDHandOff: JobObserver, @unchecked Sendable {
        private let continuation = Mutex<CheckedContinuation<String, Never>?>(nil)
        private let onFirst: @Sendable (String) -> Void

        init(_ continuation: CheckedContinuation<String, Never>, onFirst: @escaping @Sendable (String) -> Void) {
            self.continuation.withLock { $0 = continuation }
            self.onFirst = onFirst
        }

        func receive(_ event: JobEvent) { handOff(event.jobID) }

        func handOff(_ id: String) {
            guard
                let waiting = continuation.withLock({ value -> CheckedContinuation<String, Never>? in
                    defer { value = nil }
                    return value
                })
            else { return }
            onFirst(id)
            waiting.resume(returning: id)
        }
    }

    /// - Parameter subject: what the job is about (a backup label), for its audit row.
    /// - Returns: the job's id (its progress is in its status file, `GET /api/jobs/{id}`), or a
    ///   refusal when a job it must not overlap (`JobOverlap`) is running, here or in any process.
    public func start<Operation: WalvaultOperation>(
        _ operation: Operation, context: WalvaultContext, actor: HistoryActor, subject: String? = nil
    ) async -> Result<String, CommandError> {
        let ticket: Int
        switch reserve(operation.kind, context: context) {
        case .success(let reserved): ticket = reserved
        case .failure(let refusal): return .failure(refusal)
        }
        let cancellation = Cancellation()
        let id = await withCheckedContinuation { continuation in
            let handOff = IDHandOff(continuation) { id in
                self.running.withLock {
                    $0.cancellations[id] = cancellation
                    $0.starting.removeValue(forKey: ticket)
                }
            }
            DispatchQueue.global(qos: .utility).async {
                let outcome = OperationRunner(actor: actor).run(operation, context: context, observers: [handOff], cancellation: cancellation)
                handOff.handOff(outcome.jobID)
                if !operation.lifecycle.recordsHistory {
                    Self.audit(
                        context: context, operation: operation.kind.rawValue, subject: subject,
                        status: outcome.failure == nil ? .succeeded : .failed, error: outcome.failure, actor: actor)
                }
                self.running.withLock {
                    _ = $0.cancellations.removeValue(forKey: outcome.jobID)
                    $0.starting.removeValue(forKey: ticket)
                }
            }
        }
        return .success(id)
    }

    /// The refusal a job of `kind` would get now, if any: asked before a TOTP code is spent on a
    /// restore or a deletion, and again, atomically, when the job is reserved.
    public func conflict(for kind: OperationKind, context: WalvaultContext) -> CommandError? {
        running.withLock { Self.conflict(for: kind, context: context, starting: Array($0.starting.values)) }
    }

    private static func conflict(for kind: OperationKind, context: WalvaultContext, starting: [OperationKind]) -> CommandError? {
        let elsewhere = context.jobs.filter { $0.state == .running }
        let candidates =
            elsewhere.map { ($0.operation, "job \($0.id), started by \($0.actor) (\($0.origin))") }
            + starting.map { ($0, "a job starting now") }
        guard let blocker = candidates.first(where: { JobOverlap.conflicts(kind.rawValue, $0.0.rawValue) }) else { return nil }
        return CommandError(
            problem: "a \(blocker.0.rawValue) is running (\(blocker.1)): a \(kind.rawValue) must not overlap it",
            fix: "wait for it to finish (GET /api/jobs), or cancel it; nothing was started", errorCode: "operation.conflict")
    }

    private func reserve(_ kind: OperationKind, context: WalvaultContext) -> Result<Int, CommandError> {
        running.withLock { running in
            if let refusal = Self.conflict(for: kind, context: context, starting: Array(running.starting.values)) { return .failure(refusal) }
            running.nextTicket += 1
            running.starting[running.nextTicket] = kind
            return .success(running.nextTicket)
        }
    }

    /// Stops a running job between two units of work; false when this server runs no such job.
    public func cancel(_ id: String) -> Bool {
        guard let cancellation = running.withLock({ $0.cancellations[id] }) else { return false }
        cancellation.cancel()
        return true
    }

    /// At the server's start: every job of this cluster whose process stopped mid-way is marked
    /// interrupted in its status file and, once, in the history. - Returns: those jobs.
    public static func settleInterrupted(context: WalvaultContext) -> [JobStatus] {
        let settled = context.jobStatusDirectory.settleInterrupted().filter { $0.cluster == context.config.cluster.name }
        for job in settled {
            audit(
                context: context, operation: job.operation.rawValue, subject: job.id, status: .interrupted, error: nil,
                actor: HistoryActor(name: job.actor, origin: job.origin), errorLine: job.error, errorCode: job.errorCode)
        }
        return settled
    }

    /// One audit row, through the journal when the database is away; a failure is the server
    /// log's, never the request's.
    static func audit(
        context: WalvaultContext, operation: String, subject: String?, status: HistoryRecord.Status, error: JobFailure?,
        actor: HistoryActor, errorLine: String? = nil, errorCode: String? = nil
    ) {
        guard let settings = context.config.history else { return }
        var row = HistoryEvents.auditRow(
            settings, context: context, operation: operation, subject: subject, status: status, error: error, actor: actor)
        if let errorLine { row.error = errorLine }
        if let errorCode { row.errorCode = errorCode }
        if let warning = HistoryRecorder(settings: settings).record([row]) { ServerLog.warn(warning) }
    }
}
