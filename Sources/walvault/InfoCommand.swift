import ArgumentParser
import WalvaultConfig
import WalvaultKit
import WalvaultMaintenance

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "List the backups and the archived WAL (per timeline, with gaps) in the stores.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let context = try global.loadContext(for: "info")
        do {
            let report = try InfoReport.gather(context: context)
            print(json ? try report.json() : report.text)
        } catch {
            Output.fail("info", "\(error)")
            throw ExitCode(ExitCodes.failure)
        }
    }
}
