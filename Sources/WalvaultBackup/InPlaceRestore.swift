import WalvaultKit
import WalvaultSystem

/// A restore into the cluster's own data directory, as seed 003's "pre-restore snapshot" asks:
/// the cluster must be stopped, its directory is renamed aside (never deleted) and the restore
/// writes a fresh one under the old name. The plan is checked first, so a restore that cannot
/// happen (no backup, WAL missing) moves nothing; a restore that fails later leaves the old
/// directory aside, whole, and says how to put it back.
public struct InPlaceRestore {
    public let context: WalvaultContext
    public let options: RestoreOptions
    /// Where the current data directory goes: `<pgdata>.before-restore-<time>`.
    public let aside: String

    public init(context: WalvaultContext, options: RestoreOptions, aside: String) {
        self.context = context
        self.options = options
        self.aside = aside
    }

    public func run(events: OperationObserver = IgnoredEvents()) throws -> RestoreReport {
        let pgdata = options.pgdata
        if let pid = RestoreDestination.runningServer(in: pgdata) {
            throw CommandError(
                problem: "the cluster in \(pgdata) is running (postmaster pid \(pid)): an in-place restore needs it stopped",
                fix: "stop it (systemctl stop postgresql), or restore into a new directory; nothing was changed")
        }
        guard !FileSystem.exists(aside) else {
            throw CommandError(problem: "\(aside) exists already", fix: "move it away first; nothing was changed", errorCode: "system.exists")
        }
        var check = options
        check.pgdata = aside + ".plan"
        _ = try Restore(context: context, options: check).plan()
        if FileSystem.exists(pgdata) {
            do {
                try FileSystem.rename(pgdata, to: aside)
            } catch {
                throw CommandError(
                    problem: "cannot move \(pgdata) aside to \(aside): \(error)", fix: "check both are on one file system; nothing was changed")
            }
            events.receive(.progressed(note: "the data directory \(pgdata) is now \(aside) (kept, never deleted)"))
        }
        do {
            return try Restore(context: context, options: options).run(events: events)
        } catch {
            throw CommandError(
                cause: error, problem: "\(error); the previous data directory is untouched at \(aside)",
                fix: "to put it back: rm -rf \(pgdata) (what the restore left) and mv \(aside) \(pgdata)")
        }
    }
}
