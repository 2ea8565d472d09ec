import ArgumentParser
import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultService
import WalvaultSystem

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take a base backup of [cluster] into every store (run it from cron).",
        discussion:
            "Needs [cluster] pgdata and conninfo, and WAL archiving through walvault. The backup counts as complete only once the WAL that makes it consistent is in the stores and its manifest is written. Without --type it is an incr on the newest backup, or a full when [backup] full_every_days or max_chain say so; the output says which and why."
    )

    @OptionGroup var global: GlobalOptions

    @Option(
        help: ArgumentHelp(
            "Seconds to wait for the backup's WAL to be archived: more than 0, at most \(Int(DurationArgument.maximum)) (a week).",
            valueName: "seconds"), transform: DurationArgument.parse)
    var walTimeout = DurationArgument(seconds: 300)

    @Option(
        name: .customLong("type"),
        help: ArgumentHelp(
            "full stores everything; diff what changed since the last full; incr what changed since the last backup of any type.",
            valueName: "full|diff|incr"),
        transform: { text in
            guard let level = BackupLevel(rawValue: text) else { throw ValidationError("--type \(text): use full, diff or incr") }
            return level
        })
    var level: BackupLevel?

    @Flag(name: .customLong("no-expire"), help: "Do not run expire after the backup (it runs when [retention] is set).")
    var noExpire = false

    @Flag(help: "Print the backup as JSON (docs/admin-guide.md, JSON output).")
    var json = false

    /// `backup --json`.
    struct Summary: Encodable {
        let label: String
        let type: String
        let prior: String?
        let reason: String
        let start_time: String
        let stop_time: String
        let timeline: UInt32
        let total_bytes: Int
        let stored_bytes: Int
        let parts: Int
        let wal_start: String
        let wal_stop: String
        let seconds: Double
        let queued_for: [String]
        let expired_backups: Int?
    }

    func run() throws {
        let context = try global.loadContext(for: "backup")
        let outcome = global.run(
            BackupOperation(walTimeoutSeconds: walTimeout.seconds, expire: !noExpire, level: level), command: "backup", context: context)
        switch outcome.result {
        case .success(let report) where json:
            let m = report.manifest
            let expired = outcome.expired.map { $0.stores.map { $0.delete.filter { $0.kind == "backup" }.count }.reduce(0, +) }
            let summary = Summary(
                label: m.label, type: m.type.rawValue, prior: m.prior, reason: report.reason, start_time: RecoveryTarget.formatUTC(m.startTime),
                stop_time: RecoveryTarget.formatUTC(m.stopTime),
                timeline: m.timeline, total_bytes: m.totalSize, stored_bytes: m.storedSize, parts: m.parts.count,
                wal_start: "\(m.startSegment())", wal_stop: "\(m.stopSegment())", seconds: report.seconds, queued_for: report.queuedFor,
                expired_backups: expired)
            do { print(try ReportJSON.encode(summary)) } catch { Output.fail("backup", error) }
        case .success(let report):
            let m = report.manifest
            print(
                "backup \(m.label) complete: \(m.type.rawValue)\(m.prior.map { " on \($0)" } ?? "") (\(report.reason)); \(m.totalSize) bytes, \(m.storedSize) stored in \(m.parts.count + m.mapParts.count) parts, WAL \(m.startSegment()) .. \(m.stopSegment()), \(String(format2: report.seconds)) s, \(String(format2: report.throughputMBps)) MB/s"
                    + (report.queuedFor.isEmpty ? "" : "; queued for \(report.queuedFor.joined(separator: ", "))"))
            if let expired = outcome.expired {
                let counts = (expired.deletedObjects ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                let backups = expired.stores.map { $0.delete.filter { $0.kind == "backup" }.count }.reduce(0, +)
                print(
                    "expire: \(backups) backup\(backups == 1 ? "" : "s") past the window deleted; objects removed per store: \(counts.joined(separator: ", "))"
                )
            }
        case .failure(let error):
            Output.fail("backup", error)
            throw ExitCode(ErrorRegistry.exitStatus(of: error))
        }
    }
}
