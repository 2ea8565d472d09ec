import ArgumentParser
import WalvaultCommands
import WalvaultConfig
import WalvaultSystem

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take a full base backup of [cluster] into every store (run it from cron).",
        discussion: "Needs [cluster] pgdata and conninfo, and WAL archiving through walvault. The backup counts as complete only once the WAL that makes it consistent is in the stores and its manifest is written.")

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Seconds to wait for the backup's WAL to be archived: more than 0, at most \(Int(DurationArgument.maximum)) (a week).",
                               valueName: "seconds"), transform: DurationArgument.parse)
    var walTimeout = DurationArgument(seconds: 300)

    func run() throws {
        let context = try global.loadContext(for: "backup")
        let clock = Stopwatch()
        var backup = Backup(context: context)
        backup.walTimeoutSeconds = walTimeout.seconds
        let events = EventPrinter.log("backup", progress: .verbose(global.verbose))
        let outcome = Result { try backup.run(events: events) }
        History.record("backup", context, events: events.events, since: clock)
        switch outcome {
        case .success(let report):
            let m = report.manifest
            print("backup \(m.label) complete: \(m.totalSize) bytes (\(m.storedSize) stored) in \(m.parts.count) parts, WAL \(m.startSegment()) .. \(m.stopSegment()), \(String(format2: report.seconds)) s, \(String(format2: report.throughputMBps)) MB/s"
                  + (report.queuedFor.isEmpty ? "" : "; queued for \(report.queuedFor.joined(separator: ", "))"))
            if !report.queuedFor.isEmpty, let warning = ShipLauncher.startIfIdle(context: context) { Output.warn("backup", warning) }
        case .failure(let error):
            Output.fail("backup", "\(error)")
            throw ExitCode(ExitCodes.failure)
        }
    }
}

extension String {
    /// Two decimals without Foundation's String(format:).
    init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        self = "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
