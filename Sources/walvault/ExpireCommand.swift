import ArgumentParser
import WalvaultCatalog
import WalvaultCommands
import WalvaultConfig
import WalvaultSystem

struct ExpireCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expire",
        abstract: "Show what retention keeps and what it would delete in each store, and why.",
        discussion: "Keeps every backup that stopped inside [retention] days (or a store's retention_days), the newest one older than that, and all WAL from the oldest kept backup's start on every timeline that leads to a kept backup or to the newest WAL. This version only plans: --dry-run is required, nothing is deleted.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("dry-run"), help: "Print the decisions without deleting anything (required in this version).")
    var dryRun = false

    @Option(name: .customLong("as-of"), help: ArgumentHelp("Decide as if it were this moment: 'YYYY-MM-DD HH:MM:SS+TZ'.", valueName: "time"))
    var asOf: String?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard dryRun else { throw ValidationError("deleting is not available in this version; add --dry-run to see what would go and why") }
        if let asOf, RecoveryTarget.parseTime(asOf) == nil {
            throw ValidationError("--as-of '\(asOf)' is not 'YYYY-MM-DD HH:MM:SS[.ffffff][+TZ]'")
        }
    }

    func run() throws {
        let context = try global.loadContext(for: "expire")
        do {
            let report = try Expire(context: context).plan(asOf: asOf.flatMap(RecoveryTarget.parseTime) ?? WallClock.nowMicros())
            print(json ? try report.json() : report.text)
        } catch {
            Output.fail("expire", "\(error)")
            throw ExitCode(ExitCodes.failure)
        }
    }
}
