import ArgumentParser
import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultMaintenance
import WalvaultService
import WalvaultSystem

struct ExpireCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expire",
        abstract: "Show what retention keeps and what it would delete in each store, and why.",
        discussion:
            "Keeps every backup that stopped inside [retention] days (or a store's retention_days), the newest one older than that, and all WAL from the oldest kept backup's start on every timeline that leads to a kept backup or to the newest WAL; deletes the rest from every store that can delete. Refuses while a backup or restore of the cluster runs."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: .customLong("dry-run"), help: "Print the decisions without deleting anything.")
    var dryRun = false

    @Option(
        name: .customLong("as-of"),
        help: ArgumentHelp(
            "Decide as if it were this moment: 'YYYY-MM-DD HH:MM:SS+TZ'. A moment later than now is a forecast: the plan is printed and nothing is deleted unless --force is given.",
            valueName: "time"))
    var asOf: String?

    @Flag(help: "With --as-of in the future: delete as if it were then (what a forecast would only show).")
    var force = false

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if let asOf, RecoveryTarget.parseTime(asOf) == nil {
            throw ValidationError("--as-of '\(asOf)' is not 'YYYY-MM-DD HH:MM:SS[.ffffff][+TZ]'")
        }
    }

    func run() throws {
        let context = try global.loadContext(for: "expire")
        do {
            let moment = asOf.flatMap(RecoveryTarget.parseTime) ?? WallClock.nowMicros()
            let forecast = !dryRun && Expire.isForecast(asOf: moment, now: WallClock.nowMicros(), force: force)
            if forecast {
                Output.info(
                    "expire",
                    "--as-of \(RecoveryTarget.formatUTC(moment)) is later than now: this is a forecast, and nothing is deleted (add --force to delete as if it were then)"
                )
            }
            let outcome = global.run(ExpireOperation(asOf: moment, dryRun: dryRun || forecast), command: "expire", context: context)
            let report = try outcome.result.get()
            print(json ? try report.json() : report.text)
        } catch {
            Output.fail("expire", error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}
