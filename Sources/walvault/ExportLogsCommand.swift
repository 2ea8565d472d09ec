import ArgumentParser
import WalvaultCatalog
import WalvaultExports
import WalvaultKit
import WalvaultService
import WalvaultSystem

/// Only the formats rows can be exported in, so that --help lists no value the command refuses.
enum RowsFormatArgument: String, CaseIterable, ExpressibleByArgument {
    case jsonl, csv
    var format: ExportFormat { self == .jsonl ? .jsonl : .csv }
}

struct ExportLogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-logs",
        abstract: "Export a table's rows in a time range (JSON lines or CSV) into the stores; optionally delete them after.",
        discussion:
            "Reads the rows with time column in [--since, --until) through a server-side cursor (bounded memory whatever the table's size), in one REPEATABLE READ transaction, streams them through the pipeline into every sync store under <cluster>/logs/<table>/<time>-<sha256>.jsonl.zst, and records the row count and range in the history table. With --delete-exported, deletes exactly the exported rows in the same transaction, once the export is durable in every store, the async ones included (shipped first, waiting at most --async-wait): deleted rows exist nowhere else."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The table: ^[a-z_][a-z0-9_]{0,62}$, found on the search_path.", valueName: "name"))
    var table = "project_logs"

    @Option(name: .customLong("time-column"), help: ArgumentHelp("The column that says when a row was written.", valueName: "name"))
    var timeColumn = "created_at"

    @Option(help: ArgumentHelp("From this moment, included: 'YYYY-MM-DD HH:MM:SS[.ffffff][+TZ]' (default: the first row).", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("To this moment, excluded (default: now).", valueName: "time"))
    var until: String?

    @Option(help: ArgumentHelp("jsonl (the default) or csv.", valueName: "format"))
    var format: RowsFormatArgument = .jsonl

    @Option(
        name: .customLong("async-wait"),
        help: ArgumentHelp(
            "With --delete-exported: how long to wait, shipping, for every async store to hold the export before the rows are kept instead (1-3600 s, default 60).",
            valueName: "seconds"))
    var asyncWait: Int = 60

    @Option(help: ArgumentHelp("The database (default: the one [cluster] conninfo names).", valueName: "name"))
    var database: String?

    @Flag(
        name: .customLong("delete-exported"),
        help: "After the export is durable in every store (async ones included), delete exactly the exported rows.")
    var deleteExported = false

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        for (option, value) in [("--since", since), ("--until", until)] {
            if let value, RecoveryTarget.parseTime(value) == nil {
                throw ValidationError("\(option) '\(value)' is not 'YYYY-MM-DD HH:MM:SS[.ffffff][+TZ]'")
            }
        }
        guard (1...3600).contains(asyncWait) else { throw ValidationError("--async-wait \(asyncWait) is out of range: give 1 to 3600 seconds") }
    }

    func run() throws {
        let context = try global.loadContext(for: "export-logs")
        var options = ExportLogsOptions(
            table: table, timeColumn: timeColumn, since: since.flatMap(RecoveryTarget.parseTime),
            until: until.flatMap(RecoveryTarget.parseTime), format: format.format, database: database, deleteExported: deleteExported)
        options.asyncWaitSeconds = Double(asyncWait)
        let outcome = global.run(ExportLogsOperation(options: options), command: "export-logs", context: context)
        switch outcome.result {
        case .success(let result):
            print(json ? ((try? ReportJSON.encode(result)) ?? "{}") : result.lines.joined(separator: "\n"))
        case .failure(let error):
            Output.fail("export-logs", error)
            throw ExitCode(ErrorRegistry.exitStatus(of: error))
        }
    }
}
