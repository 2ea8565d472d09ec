import Synchronization
import WalvaultKit
import WalvaultShipping
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// What an operation runs under: the loaded config and stores, the job's id, its cancellation,
/// and the sink its events go to. The operation sees it as an `OperationObserver`; the sink keeps
/// the events for the history, stamps each with the job and the time for the observers, and keeps
/// the job's status file current.
public final class JobContext: OperationObserver {
    public let context: WalvaultContext
    public let id: String
    public let operation: OperationKind
    public let cancellation: Cancellation
    private let explicitActor: HistoryActor?
    /// Who runs the job (the runner's actor, else this process's user, looked up on first use).
    public var actor: HistoryActor { explicitActor ?? .thisProcess }
    let services: any JobServices
    private let observers: [any JobObserver]
    private let log = EventLog()
    private let statusFile: StatusFile?

    init(
        context: WalvaultContext, id: String, operation: OperationKind, cancellation: Cancellation, actor: HistoryActor?,
        services: any JobServices, observers: [any JobObserver]
    ) {
        self.context = context
        self.id = id
        self.operation = operation
        self.cancellation = cancellation
        explicitActor = actor
        self.services = services
        self.observers = observers
        if operation.isTracked {
            let who = actor ?? .thisProcess
            statusFile = StatusFile(
                directory: context.jobStatusDirectory,
                status: JobStatus(
                    id: id, operation: operation, cluster: context.config.cluster.name, pid: getpid(),
                    processStart: FileSystem.processStartTicks(getpid()), startedAt: WallClock.nowMicros(),
                    actor: who.name, origin: who.origin))
        } else {
            statusFile = nil
        }
    }

    /// Everything the operation reported, in order (progress reduced to its latest).
    public var events: [OperationEvent] { log.events }

    public func receive(_ event: OperationEvent) {
        log.receive(event)
        switch event {
        case .started: break
        case .progressed(let note): emit(.note(note))
        case .progress(let report):
            if let warning = statusFile?.update(report) { emit(.warning(warning)) }
            emit(.progress(report))
        case .warning(let text): emit(.warning(text))
        case .stored(let store, let key, _): emit(.stored(store: store, key: key))
        case .succeeded, .failed: break
        }
    }

    /// A warning from the runner itself (history, alerts, expire after a backup).
    func warn(_ text: String) { emit(.warning(text)) }

    /// History rows for `events`, with this job's actor; nothing without `[history]`, and then
    /// the user database is not asked who runs. A failure to record is a warning.
    func recordHistory(_ events: [OperationEvent], durationMs: Int) {
        guard context.config.history != nil else { return }
        if let warning = services.recordHistory(events, durationMs: durationMs, actor: actor, context: context) { warn(warning) }
    }

    /// The same for what an async store made durable (ship, per flush).
    func recordShipped(_ shipped: [Ship.Shipped], durationMs: Int) {
        guard context.config.history != nil else { return }
        if let warning = services.recordShipped(shipped, durationMs: durationMs, actor: actor, context: context) { warn(warning) }
    }

    func note(_ text: String) { emit(.note(text)) }

    func start() {
        if let warning = statusFile?.write() { emit(.warning(warning)) }
        emit(.started)
    }

    func finish(_ state: JobStatus.State, failure: JobFailure?) {
        if let warning = statusFile?.finish(state, failure: failure) { emit(.warning(warning)) }
        emit(.finished(state, failure))
    }

    private func emit(_ payload: JobEvent.Payload) {
        let event = JobEvent(jobID: id, operation: operation, time: WallClock.nowMicros(), payload: payload)
        for observer in observers { observer.receive(event) }
    }
}

/// The job's file under `<spool>/jobs/`: written at the start, on a new phase, at most once a
/// second while progressing, and at the end. A file that cannot be written is said once, and the
/// job goes on: watching is not worth failing a backup over.
private final class StatusFile: Sendable {
    private struct State {
        var status: JobStatus
        var lastWrite = Stopwatch()
        var failedOnce = false
    }

    private let directory: JobStatusDirectory
    private let state: Mutex<State>

    init(directory: JobStatusDirectory, status: JobStatus) {
        self.directory = directory
        state = Mutex(State(status: status))
    }

    func write() -> String? { state.withLock { save(&$0) } }

    func update(_ report: ProgressReport) -> String? {
        state.withLock { state in
            let newPhase = state.status.progress?.phase != report.phase
            state.status.progress = report
            guard newPhase || state.lastWrite.seconds >= 1 else { return nil }
            return save(&state)
        }
    }

    func finish(_ final: JobStatus.State, failure: JobFailure?) -> String? {
        let warning = state.withLock { state -> String? in
            state.status.state = final
            state.status.finishedAt = WallClock.nowMicros()
            state.status.error = failure?.line
            state.status.errorCode = failure?.code
            return save(&state)
        }
        directory.prune()
        return warning
    }

    private func save(_ state: inout State) -> String? {
        state.status.updatedAt = WallClock.nowMicros()
        state.lastWrite = Stopwatch()
        do {
            try directory.write(state.status)
            return nil
        } catch {
            guard !state.failedOnce else { return nil }
            state.failedOnce = true
            return "cannot write the job's status file in \(directory.path) (\(error)); walvault status will not show this job"
        }
    }
}
