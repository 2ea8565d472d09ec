import WalvaultCommands
import WalvaultConfig
import WalvaultHistory
import WalvaultSystem

/// Records what a command did when [history] is configured. Never fails the command: a problem
/// with the control-plane database becomes one warning line, and the rows wait in the journal.
enum History {
    static func record(_ command: String, _ context: WalvaultContext, events: [OperationEvent], since clock: Stopwatch) {
        guard let settings = context.config.history else { return }
        let rows = HistoryEvents.rows(settings, context: context, events: events, durationMs: clock.milliseconds)
        if let warning = HistoryRecorder(settings: settings).record(rows) { Output.warn(command, warning) }
    }
}

/// The CLI's view of an operation's events: progress on the way (stdout, or with --verbose
/// only), warnings always, one line each. The outcome is printed by the command itself.
enum EventPrinter {
    static func log(_ command: String, progress: ProgressLines) -> EventLog {
        EventLog { event in
            switch event {
            case .progressed(let note):
                switch progress {
                case .stdout: print(note)
                case .verbose(true): Output.info(command, note)
                case .verbose(false): break
                }
            case .warning(let text): Output.warn(command, text)
            default: break
            }
        }
    }

    enum ProgressLines {
        case stdout
        case verbose(Bool)
    }
}
