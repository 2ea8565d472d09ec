import ArgumentParser
import WalvaultBuildInfo
import WalvaultKit
import WalvaultSystem

@main
struct Walvault: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "walvault",
        abstract: "Point-in-time recovery for PostgreSQL: archives every WAL segment, checksummed and compressed, and gives it back intact.",
        version: BuildInfo.versionText,
        subcommands: [
            ArchivePushCommand.self, ArchiveGetCommand.self, BackupCommand.self, RestoreCommand.self, InfoCommand.self, StatusCommand.self,
            MigrateCommand.self, HistoryCommand.self, DecryptCommand.self, ShipCommand.self, ExpireCommand.self, CheckCommand.self,
            VerifyCommand.self, DrillCommand.self, InitCommand.self,
            DumpCommand.self, FilesCommand.self, ExportLogsCommand.self, PrefetchCommand.self, PushAheadCommand.self, ServeCommand.self,
            OwnerCommand.self
        ])

    @OptionGroup var global: GlobalOptions

    /// Usage errors are one line in the same format as every other error, and exit 64; except
    /// in archive-get, which runs as restore_command: there a usage error must stop a targeted
    /// recovery (exit > 125), not look like "file not archived", or PostgreSQL would promote early.
    static func main() {
        MemoryTuning.forStreaming()
        let arguments = Array(CommandLine.arguments.dropFirst())
        Output.start(format: LogFormat.requested(in: arguments))
        do {
            var command = try PerSegmentArguments.command(arguments) ?? parseAsRoot(arguments)
            try command.run()
        } catch let code as ExitCode {
            exit(withError: code)
        } catch {
            // --help and --version arrive here too, as "errors" that print and exit 0.
            guard exitCode(for: error) != .success else { exit(withError: error) }
            let names = configuration.subcommands.compactMap { $0.configuration.commandName }
            let command = arguments.first { names.contains($0) }
            var message = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
            Output.fail(command ?? "", message + "; see walvault \(command.map { $0 + " " } ?? "")--help", fields: ["error_code": "input.invalid"])
            let status = command == ArchiveGetCommand.configuration.commandName ? ExitCodes.retrievalFailure() : ExitCodes.usage
            exit(withError: ExitCode(status))
        }
    }
}
