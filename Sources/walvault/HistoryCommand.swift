import ArgumentParser
import WalvaultCatalog
import WalvaultConfig
import WalvaultHistory
import WalvaultKit
import WalvaultMaintenance

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List recorded operations from control_plane.backups for this project.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Only rows of this type: wal, database, storage or logs.")
    var type: String?

    @Option(help: ArgumentHelp("Only rows created at or after this moment ('YYYY-MM-DD HH:MM:SS[+TZ]').", valueName: "time"))
    var since: String?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if let type, HistoryRecord.Kind(rawValue: type) == nil {
            throw ValidationError("--type must be one of wal, database, storage, logs")
        }
        if let since, RecoveryTarget.parseTime(since) == nil {
            throw ValidationError("--since '\(since)' is not 'YYYY-MM-DD HH:MM:SS[+TZ]'")
        }
    }

    func run() throws {
        do {
            let rows = try ControlPlane(configPath: ConfigLocation.resolve(explicit: global.config))
                .rows(type: type.flatMap(HistoryRecord.Kind.init(rawValue:)), since: since.flatMap(RecoveryTarget.parseTime))
            print(json ? try HistoryQuery.json(rows) : HistoryQuery.text(rows))
        } catch {
            Output.fail("history", error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}
