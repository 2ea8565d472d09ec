import WalvaultCommands
import WalvaultConfig
import WalvaultHistory

/// Records what a command did when [history] is configured. Never fails the command: a problem
/// with the control-plane database becomes one warning line, and the rows wait in the journal.
enum History {
    static func record(_ command: String, _ context: WalvaultContext, _ make: (HistorySettings) -> [HistoryRecord]) {
        guard let settings = context.config.history else { return }
        if let warning = HistoryRecorder(settings: settings).record(make(settings)) { Output.warn(command, warning) }
    }
}
