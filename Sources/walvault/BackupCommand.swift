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

    @Flag(name: .customLong("no-expire"), help: "Do not run expire after the backup (it runs when [retention] is set).")
    var noExpire = false

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
            Alerts.succeeded("backup", context, "backup")
            let m = report.manifest
            print("backup \(m.label) complete: \(m.totalSize) bytes (\(m.storedSize) stored) in \(m.parts.count) parts, WAL \(m.startSegment()) .. \(m.stopSegment()), \(String(format2: report.seconds)) s, \(String(format2: report.throughputMBps)) MB/s"
                  + (report.queuedFor.isEmpty ? "" : "; queued for \(report.queuedFor.joined(separator: ", "))"))
            if !report.queuedFor.isEmpty, let warning = ShipLauncher.startIfIdle(context: context) { Output.warn("backup", warning) }
            // After the backup (whose shared lock is released by now), with the new backup counted:
            // a failure here is said, but the backup stands and the exit status says so.
            let retained = context.config.stores.indices.contains { context.config.retentionDays(store: $0) != nil }
            if retained && !noExpire {
                do {
                    let expired = try Expire(context: context).run()
                    History.expired("backup", context, report: expired)
                    let counts = (expired.deletedObjects ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                    let backups = expired.stores.map { $0.delete.filter { $0.kind == "backup" }.count }.reduce(0, +)
                    print("expire: \(backups) backup\(backups == 1 ? "" : "s") past the window deleted; objects removed per store: \(counts.joined(separator: ", "))")
                } catch {
                    Output.warn("backup", "the backup is complete, but expire failed: \(error)")
                }
            }
            Alerts.checkBackupAge("backup", context, force: true)
        case .failure(let error):
            Output.fail("backup", "\(error)")
            Alerts.failed("backup", context, condition: "backup", error: error, immediate: true)
            Alerts.checkBackupAge("backup", context, force: true)
            throw ExitCode(ExitCodes.failure)
        }
    }
}
