import Dispatch
import Synchronization
import WalvaultKit
import WalvaultService
import WalvaultSystem

/// The jobs this server started. Each runs through `OperationRunner` on a thread of its own, so it
/// outlives the request (and the browser tab) that started it, writes the same status file and
/// history rows as a job the CLI started, and names the owner and the client's address. The
/// request gets the job's id as soon as the runner has written its status file.
public final class ServerJobs: Sendable {
    private let running = Mutex<[String: Cancellation]>([:])

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

    /// - Returns: the job's id; its progress is in its status file (`GET /api/jobs/{id}`).
    public func start<Operation: WalvaultOperation>(_ operation: Operation, context: WalvaultContext, actor: HistoryActor) async -> String {
        let cancellation = Cancellation()
        return await withCheckedContinuation { continuation in
            let handOff = IDHandOff(continuation) { id in self.running.withLock { $0[id] = cancellation } }
            DispatchQueue.global(qos: .utility).async {
                let outcome = OperationRunner(actor: actor).run(operation, context: context, observers: [handOff], cancellation: cancellation)
                handOff.handOff(outcome.jobID)
                _ = self.running.withLock { $0.removeValue(forKey: outcome.jobID) }
            }
        }
    }

    /// Stops a running job between two units of work; false when this server runs no such job.
    public func cancel(_ id: String) -> Bool {
        guard let cancellation = running.withLock({ $0[id] }) else { return false }
        cancellation.cancel()
        return true
    }
}
