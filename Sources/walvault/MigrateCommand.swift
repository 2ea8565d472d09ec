import ArgumentParser
import WalvaultConfig
import WalvaultHistory
import WalvaultKit
import WalvaultMaintenance

struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the control-plane schema ([history] conninfo). Safe to run twice or at once.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print the migrations applied now and before, and the journal records replayed, as JSON.")
    var json = false

    /// `migrate --json`.
    struct Summary: Encodable {
        let applied: [String]
        let already_applied: [String]
        let replayed: Int
    }

    func run() throws {
        do {
            let report = try ControlPlane(configPath: ConfigLocation.resolve(explicit: global.config)).migrate()
            if json {
                print(
                    try ReportJSON.encode(
                        Summary(applied: report.outcome.applied, already_applied: report.outcome.alreadyApplied, replayed: report.replayed)))
                return
            }
            print(report.outcome.summary)
            if report.replayed > 0 { print("replayed \(report.replayed) records from the journal \(report.journal)") }
        } catch {
            Output.fail("migrate", error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}
