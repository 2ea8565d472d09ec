import Synchronization
import WalvaultKit
import WalvaultService
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The CLI's view of a job: on a terminal, one status line on stderr rewritten in place; without
/// one (cron, systemd, CI), one line per phase; with `--quiet`, neither. Warnings are always said,
/// notes where the command wants them. stdout stays for the command's result.
final class JobPresenter: JobObserver {
    enum Progress {
        case terminal
        case phaseLines
        case quiet
    }

    enum Notes {
        case stdout
        case stderr
        case hidden
    }

    private struct State {
        var lineShown = false
        var phase: String?
        var phaseStarted: Int64 = 0
        var jobStarted: Int64?
    }

    let command: String
    let progress: Progress
    let notes: Notes
    private let state = Mutex(State())

    init(command: String, progress: Progress, notes: Notes) {
        self.command = command
        self.progress = progress
        self.notes = notes
    }

    /// The status line on a terminal, unless `--quiet`. Without one, phase lines with `--verbose`:
    /// a backup or verify run by cron says nothing on success unless asked, as it always has
    /// (cron mails whatever a job prints).
    static func progress(_ global: GlobalOptions) -> Progress {
        if global.quiet { return .quiet }
        // A status line rewritten in place is not a JSON line: at a terminal, JSON gets one line per phase.
        if isatty(2) != 0 { return global.logFormat == .json ? .phaseLines : .terminal }
        return global.verbose ? .phaseLines : .quiet
    }

    func receive(_ event: JobEvent) {
        state.withLock { state in
            if state.jobStarted == nil { state.jobStarted = event.time }
            switch event.payload {
            case .started, .stored:
                break
            case .progress(let report):
                let newPhase = state.phase != report.phase
                if newPhase {
                    state.phase = report.phase
                    state.phaseStarted = event.time
                }
                switch progress {
                case .terminal:
                    let text = ProgressText.line(
                        event.operation, report, elapsed: Double(event.time - state.jobStarted!) / 1e6,
                        phaseSeconds: Double(event.time - state.phaseStarted) / 1e6)
                    Self.write("\r\u{1B}[K" + text)
                    state.lineShown = true
                case .phaseLines:
                    if newPhase { Output.info(command, ProgressText.phaseLine(report), fields: ["job_id": "\(event.jobID)"]) }
                case .quiet:
                    break
                }
            case .note(let text):
                switch notes {
                case .stdout:
                    clear(&state)
                    print(text)
                case .stderr:
                    clear(&state)
                    Output.info(command, text, fields: ["job_id": "\(event.jobID)"])
                case .hidden:
                    break
                }
            case .warning(let text):
                clear(&state)
                Output.warn(command, text, fields: ["job_id": "\(event.jobID)"])
            case .finished:
                clear(&state)
            }
        }
    }

    private func clear(_ state: inout State) {
        guard state.lineShown else { return }
        Self.write("\r\u{1B}[K")
        state.lineShown = false
    }

    private static func write(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

extension GlobalOptions {
    /// How every command runs its operation: through the runner, shown by a `JobPresenter`, and
    /// cancelled by SIGINT or SIGTERM unless the command passes its own `cancellation` (dump's
    /// schemas share one; archive-push and check are not cancellable).
    /// - Parameter notes: where the operation's notes go; by default stderr with --verbose, else nowhere.
    func run<Operation: WalvaultOperation>(
        _ operation: Operation, command: String, context: WalvaultContext, notes: JobPresenter.Notes? = nil,
        cancellation: Cancellation? = nil, observers: [any JobObserver] = []
    ) -> JobOutcome<Operation.Output> {
        let presenter = JobPresenter(command: command, progress: JobPresenter.progress(self), notes: notes ?? (verbose ? .stderr : .hidden))
        return OperationRunner().run(
            operation, context: context, observers: [presenter] + observers,
            cancellation: cancellation ?? SignalCancellation.install(command: command))
    }
}
