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

    func run() throws {
        do {
            let report = try ControlPlane(configPath: ConfigLocation.resolve(explicit: global.config)).migrate()
            print(report.outcome.summary)
            if report.replayed > 0 { print("replayed \(report.replayed) records from the journal \(report.journal)") }
        } catch {
            Output.fail("migrate", error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}
