import ArgumentParser
import WalvaultConfig
import WalvaultKit
import WalvaultMaintenance
import WalvaultService

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
            let report = try global.run(InfoOperation(), command: "info", context: context, notes: .hidden).result.get()
            print(json ? try report.json() : report.text)
        } catch {
            Output.fail("info", error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}
