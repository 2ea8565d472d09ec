import WalvaultCommands
import WalvaultConfig
import WalvaultHistory
import WalvaultStores
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

/// Tells `[alerts]` what a command saw. Never fails the command and never changes its exit
/// status: a channel that cannot be reached is one warning line.
enum Alerts {
    static func failed(_ command: String, _ context: WalvaultContext, condition: String, error: Error, immediate: Bool = false) {
        failed(command, context, condition: condition, error: "\(error)", immediate: immediate)
    }

    static func failed(_ command: String, _ context: WalvaultContext, condition: String, error: String, immediate: Bool = false) {
        guard let notifier = Notifier(context: context) else { return }
        for warning in notifier.failed(condition, error: error, immediate: immediate) { Output.warn(command, warning) }
    }

    static func succeeded(_ command: String, _ context: WalvaultContext, _ prefix: String) {
        guard let notifier = Notifier(context: context) else { return }
        for warning in notifier.succeeded(prefix) { Output.warn(command, warning) }
    }

    /// "archive-push to store \"local\"" when the failing store is known.
    static func condition(_ operation: String, _ error: Error) -> String {
        (error as? StoreError).map { "\(operation) to store \"\($0.store)\"" } ?? operation
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
