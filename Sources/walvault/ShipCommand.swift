import ArgumentParser
import WalvaultConfig
import WalvaultHistory
import WalvaultKit
import WalvaultRepository
import WalvaultService
import WalvaultSystem

struct ShipCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ship",
        abstract: "Send what is queued for the async stores (started by archive-push; or run as a service with --follow).",
        discussion:
            "Objects go oldest first, [shipping] parallel at a time, each copied byte for byte from a sync store and checked against its SHA-256 on the way; an entry leaves the queue only once the async store holds its object. A backup's manifest goes last, when the store holds every part and WAL segment it needs. One shipper runs at a time: another exits at once."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Keep running, shipping as objects are queued (for a systemd service).")
    var follow = false

    @Flag(name: .customLong("catch-up"), help: "First queue everything the sync stores hold that an async store lacks (after adding a store).")
    var catchUp = false

    @Flag(help: "Print what was shipped as JSON (docs/admin-guide.md, JSON output).")
    var json = false

    /// `ship --json`.
    struct Summary: Encodable {
        let shipped: Int
        let bytes: Int
        let already_there: Int
        /// Objects still queued, per store.
        let remaining: [String: Int]
        let failures: [String]
        let left_in_chat: Int
        /// Another `walvault ship` was running: it ships the queue, this one did nothing.
        let busy: Bool
    }

    func run() throws {
        let context = try global.loadContext(for: "ship")
        do {
            // Catch-up notes were always said; the others only with --verbose.
            let outcome = global.run(
                ShipOperation(follow: follow, catchUp: catchUp), command: "ship", context: context,
                observers: [CatchUpNotes(verbose: global.verbose)])
            let report = try outcome.result.get()
            if json, context.asyncIndexes.isEmpty || report.busy {
                print(
                    try ReportJSON.encode(
                        Summary(
                            shipped: 0, bytes: 0, already_there: 0, remaining: report.remaining, failures: [], left_in_chat: 0,
                            busy: report.busy)))
                return
            }
            if context.asyncIndexes.isEmpty {
                Output.info("ship", "no store is async: nothing to ship")
                return
            }
            if report.busy {
                if global.verbose { Output.info("ship", "another walvault ship is running") }
                return
            }
            if report.cancelled {
                let left = report.remaining.values.reduce(0, +)
                Output.info("ship", "stopped: shipped \(report.shipped) objects (\(report.bytes) bytes); \(left) stay queued for the next run")
                // SIGTERM is how systemd stops a shipper that follows: that is its normal end.
                if follow { return }
                throw ExitCode(ExitCodes.cancelled)
            }
            if json {
                print(
                    try ReportJSON.encode(
                        Summary(
                            shipped: report.shipped, bytes: report.bytes, already_there: report.alreadyThere, remaining: report.remaining,
                            failures: report.failures, left_in_chat: report.leftBehind.count, busy: false)))
                if !report.failures.isEmpty { throw ExitCode(ExitCodes.failure) }
                return
            }
            for line in report.failures.prefix(5) { Output.warn("ship", line) }
            if !report.leftBehind.isEmpty {
                Output.warn(
                    "ship",
                    "\(report.leftBehind.count) objects were dropped from the catalog but left in the chat (\(Set(report.leftBehind.values).sorted().joined(separator: "; ")))"
                )
            }
            if report.failures.count > 5 { Output.warn("ship", "and \(report.failures.count - 5) more objects failed the same way") }
            let left = report.remaining.sorted { $0.key < $1.key }.map { "\($0.value) queued for \"\($0.key)\"" }.joined(separator: ", ")
            Output.info(
                "ship",
                "shipped \(report.shipped) objects (\(report.bytes) bytes)"
                    + (report.alreadyThere > 0 ? ", \(report.alreadyThere) already there" : "")
                    + (left.isEmpty ? "" : "; \(left)"))
            if !report.failures.isEmpty { throw ExitCode(ExitCodes.failure) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Output.fail("ship", error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}

/// Says what `--catch-up` queued, verbose or not, as ship always has.
private final class CatchUpNotes: JobObserver {
    let verbose: Bool
    init(verbose: Bool) { self.verbose = verbose }
    func receive(_ event: JobEvent) {
        if !verbose, case .note(let text) = event.payload, text.hasSuffix("objects found missing by listing were queued") {
            Output.info("ship", text)
        }
    }
}
