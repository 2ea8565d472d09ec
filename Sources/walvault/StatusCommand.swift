import ArgumentParser
import WalvaultCatalog
import WalvaultKit
import WalvaultSystem

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "List running and recently finished jobs (backup, restore, verify, drill, expire, ship, dump, export-logs), from any process.",
        discussion:
            "Each job writes its state under [cluster] spool (jobs/). A job whose process is gone while its file says running is shown as interrupted."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print JSON: an array of jobs, newest first.")
    var json = false

    func run() throws {
        let context = try global.loadContext(for: "status")
        let jobs = context.jobs
        if json {
            do {
                print(try ReportJSON.encode(jobs))
            } catch {
                Output.fail("status", error)
                throw ExitCode(ExitCodes.failure)
            }
            return
        }
        if jobs.isEmpty {
            print("no jobs recorded for cluster \(context.config.cluster.name)")
            return
        }
        for job in jobs {
            let started = RecoveryTarget.formatUTC(job.startedAt)
            let took = job.finishedAt.map { " in \(String(format1: Double($0 - job.startedAt) / 1e6)) s" } ?? ""
            print("\(job.id)  \(job.summary)  started \(started)\(took) by \(job.actor) (\(job.origin)), pid \(job.pid)")
        }
    }
}
