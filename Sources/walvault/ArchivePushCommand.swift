import ArgumentParser
import WalvaultConfig
import WalvaultKit
import WalvaultService
import WalvaultSystem

struct ArchivePushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive-push",
        abstract: "Store one WAL file durably (PostgreSQL's archive_command).",
        discussion:
            "archive_command = 'walvault --config /etc/walvault/walvault.toml archive-push %p'. Exits 0 only once every configured store holds the file durably; otherwise PostgreSQL keeps the file and retries."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Path of the WAL file, as PostgreSQL's %p.", valueName: "path"))
    var path: String

    func run() throws {
        let context = try global.loadContext(for: "archive-push")
        // The exit status depends on the stores only: history, alerts and the shipper never change it.
        let outcome = global.run(ArchivePushOperation(walPath: path), command: "archive-push", context: context, cancellation: Cancellation())
        switch outcome.result {
        case .success(let output):
            let result = output.result
            if global.verbose {
                let stored = result.stored.map { "\($0.store):\($0.object.key) (\($0.object.size) bytes)" }
                let summary =
                    output.confirmed
                    ? "stored ahead in \(result.alreadyPresentIn.joined(separator: ", ")) (checksum confirmed)"
                    : stored.isEmpty
                        ? "already archived in \(result.alreadyPresentIn.joined(separator: ", "))" : "stored " + stored.joined(separator: ", ")
                let queued = result.queuedFor.isEmpty ? "" : "; queued for \(result.queuedFor.joined(separator: ", "))"
                Output.info("archive-push", "\(result.file) (\(result.originalSize) bytes, sha256 \(result.sha256.prefix(12))…): \(summary)\(queued)")
            }
        case .failure(let error):
            Output.fail("archive-push", error)
            // Never above 125, whatever the code: PostgreSQL would restart the archiver.
            throw ExitCode(ExitCodes.failure)
        }
    }
}
