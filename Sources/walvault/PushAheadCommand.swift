import ArgumentParser
import Synchronization
import WalvaultArchive
import WalvaultConfig
import WalvaultService
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
        let services = LiveServices()
        // One push at a time into the history and the shipper's start, whichever thread made it.
        let serial = Mutex<Void>(())
        let verbose = global.verbose
        let count = PushAheadWorker(context: context, walDirectory: walDirectory).run { pushed in
            serial.withLock { _ in
                switch pushed.result {
                case .success(let result):
                    // Each push is an archive-push of its own in the history, as if PostgreSQL had called.
                    if context.config.history != nil,
                        let warning = services.recordHistory(pushed.events, durationMs: clock.milliseconds, actor: .thisProcess, context: context)
                    {
                        Output.warn("push-ahead", warning)
                    }
                    if !result.queuedFor.isEmpty, let warning = services.startShipper(context: context) { Output.warn("push-ahead", warning) }
                case .failure(let error):
                    // PostgreSQL's own call pushes it again and reports what is wrong.
                    if verbose { Output.info("push-ahead", "\(pushed.segment): \(error)") }
                }
            }
        }
        if verbose { Output.info("push-ahead", "\(count) segments stored ahead") }
    }
}
