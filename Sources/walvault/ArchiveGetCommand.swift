import ArgumentParser
import WalvaultArchive
import WalvaultConfig
import WalvaultKit

struct ArchiveGetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive-get",
        abstract: "Fetch one archived WAL file, verified, to where PostgreSQL asks (restore_command).",
        discussion: """
            restore_command = 'walvault --config /etc/walvault/walvault.toml archive-get %f "%p"'. \
            Exits 0 when the file is in place, 1 (quietly) when no store has it, and 255 when it may exist but cannot be \
            delivered intact, which makes PostgreSQL stop recovery instead of promoting too early. In a standby \
            (standby.signal in the data directory) that failure exits 1 with its error line: a standby never promotes on a \
            missing file, so it keeps streaming and asks again, where 255 would shut it down.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Name of the WAL file, as PostgreSQL's %f.", valueName: "file"))
    var fileName: String

    @Argument(help: ArgumentHelp("Where to write it, as PostgreSQL's %p.", valueName: "destination"))
    var destination: String

    func run() throws {
        let context = try global.loadContext(for: "archive-get", failure: ExitCodes.retrievalFailure())
        var getter = ArchiveGet(context: context)
        if let spool = PrefetchSpool.forRecovery(context), let identifier = spool.systemIdentifier {
            getter.prefetch = spool
            getter.onPrefetchRequest = {
                if let warning = PrefetchLauncher.startIfIdle(context: context, spool: spool, systemIdentifier: identifier) {
                    Output.warn("archive-get", warning)
                }
            }
        }
        do {
            let outcome = try getter.run(fileName: fileName, destination: destination)
            for warning in getter.warnings { Output.warn("archive-get", warning) }
            switch outcome {
            case .restored(let store, let object, let size):
                if global.verbose { Output.info("archive-get", "\(fileName): \(size) bytes from \(store):\(object.key)") }
            case .notArchived:
                if global.verbose { Output.info("archive-get", "\(fileName) is not in any store") }
                throw ExitCode(ExitCodes.notArchived)
            }
        } catch let code as ExitCode {
            throw code
        } catch {
            Output.fail("archive-get", error)
            throw ExitCode(ExitCodes.retrievalFailure())
        }
    }
}
