import ArgumentParser
import WalvaultKit
import WalvaultMaintenance
import WalvaultPolicy
import WalvaultService
import WalvaultSystem

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check that backups work end to end, for monitoring and cron (walvault check || alert).",
        discussion:
            "Archiving is on and runs walvault with this config; a WAL switch reaches every sync store within [check] round_trip_seconds; every store is reachable and writable (a probe object written and removed); the newest complete backup is younger than backup_max_age_hours; the oldest object queued for an async store is younger than shipping_lag_minutes; pg_wal, local stores and the spool keep min_free_percent free; the control-plane database answers and its journal holds nothing older than an hour. One line per check with its figure; exit 1 when any fails."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let context = try global.loadContext(for: "check")
        let checks: [HealthCheck]
        switch global.run(CheckOperation(), command: "check", context: context, notes: .hidden, cancellation: Cancellation()).result {
        case .success(let found): checks = found
        case .failure(let error):
            Output.fail("check", error)
            throw ExitCode(ExitCodes.failure)
        }
        if json {
            do { print(try HealthCheck.json(checks)) } catch { Output.fail("check", error) }
        } else {
            for check in checks { print(check.line.split(whereSeparator: \.isNewline).joined(separator: " ")) }
        }
        if checks.contains(where: { !$0.ok }) { throw ExitCode(ExitCodes.failure) }
    }
}
