import ArgumentParser
import WalvaultCommands
import WalvaultConfig
import WalvaultSystem

struct ArchivePushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive-push",
        abstract: "Store one WAL file durably (PostgreSQL's archive_command).",
        discussion: "archive_command = 'walvault --config /etc/walvault/walvault.toml archive-push %p'. Exits 0 only once every configured store holds the file durably; otherwise PostgreSQL keeps the file and retries.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Path of the WAL file, as PostgreSQL's %p.", valueName: "path"))
    var path: String

    func run() throws {
        let context = try global.loadContext(for: "archive-push")
        let clock = Stopwatch()
        let events = EventPrinter.log("archive-push", progress: .verbose(global.verbose))
        let pushed = PushAhead(context: context).run(walPath: path, events: events)
        let outcome = pushed.result
        // The exit status depends on the stores only: recording history never changes it.
        History.record("archive-push", context, events: events.events, since: clock)
        if let warning = pushed.warning { Output.warn("archive-push", warning) }
        switch outcome {
        case .success(let result):
            Alerts.succeeded("archive-push", context, "archive-push")
            for skipped in result.notQueuedFor {
                if skipped.warnNow { Output.warn("archive-push", skipped.message) }
                History.record("archive-push", context, events: [.started(operation: "queue", type: .wal, subject: result.file.description),
                                                                 .failed(error: "store \"\(skipped.store)\": \(skipped.message)", code: "ship.queue_full")], since: clock)
            }
            if !result.queuedFor.isEmpty, let warning = ShipLauncher.startIfIdle(context: context) { Output.warn("archive-push", warning) }
            if global.verbose {
                let stored = result.stored.map { "\($0.store):\($0.object.key) (\($0.object.size) bytes)" }
                let summary = pushed.confirmed ? "stored ahead in \(result.alreadyPresentIn.joined(separator: ", ")) (checksum confirmed)"
                    : stored.isEmpty ? "already archived in \(result.alreadyPresentIn.joined(separator: ", "))" : "stored " + stored.joined(separator: ", ")
                let queued = result.queuedFor.isEmpty ? "" : "; queued for \(result.queuedFor.joined(separator: ", "))"
                Output.info("archive-push", "\(result.file) (\(result.originalSize) bytes, sha256 \(result.sha256.prefix(12))…): \(summary)\(queued)")
            }
        case .failure(let error):
            Output.fail("archive-push", "\(error)")
            Alerts.failed("archive-push", context, condition: Alerts.condition("archive-push", error), error: error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}
