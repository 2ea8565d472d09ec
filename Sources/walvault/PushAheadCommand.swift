import ArgumentParser
import Synchronization
import WalvaultCommands
import WalvaultConfig
import WalvaultSystem

/// The background worker archive-push starts for a backlog; not for people (hidden from --help).
struct PushAheadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push-ahead",
        abstract: "Store the .ready WAL segments PostgreSQL has not asked for yet (started by archive-push).",
        shouldDisplay: false)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("wal-directory"), help: ArgumentHelp("The cluster's pg_wal directory.", valueName: "path"))
    var walDirectory: String

    func run() throws {
        let context = try global.loadContext(for: "push-ahead")
        let clock = Stopwatch()
        // One push at a time into the history and the shipper's start, whichever thread made it.
        let serial = Mutex<Void>(())
        let verbose = global.verbose
        let count = PushAheadWorker(context: context, walDirectory: walDirectory).run { pushed in
            serial.withLock { _ in
                switch pushed.result {
                case .success(let result):
                    History.record("archive-push", context, events: pushed.events, since: clock)
                    if !result.queuedFor.isEmpty, let warning = ShipLauncher.startIfIdle(context: context) { Output.warn("push-ahead", warning) }
                case .failure(let error):
                    // PostgreSQL's own call pushes it again and reports what is wrong.
                    if verbose { Output.info("push-ahead", "\(pushed.segment): \(error)") }
                }
            }
        }
        if verbose { Output.info("push-ahead", "\(count) segments stored ahead") }
    }
}
