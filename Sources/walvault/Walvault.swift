import ArgumentParser
import WalvaultCommands

@main
struct Walvault: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "walvault",
        abstract: "Point-in-time recovery for PostgreSQL: archives every WAL segment, checksummed and compressed, and gives it back intact.",
        version: version,
        subcommands: [ArchivePushCommand.self, ArchiveGetCommand.self, BackupCommand.self, RestoreCommand.self, InfoCommand.self,
                      MigrateCommand.self, HistoryCommand.self, DecryptCommand.self])

    @OptionGroup var global: GlobalOptions

    /// archive-get runs as restore_command: a usage error there must stop recovery (exit > 125),
    /// not look like "file not archived", or PostgreSQL would end recovery and promote early.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let code as ExitCode {
            exit(withError: code)
        } catch {
            if arguments.contains(ArchiveGetCommand.configuration.commandName!), exitCode(for: error) != .success {
                Output.fail("archive-get", fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)")
                exit(withError: ExitCode(ExitCodes.abortRecovery))
            }
            exit(withError: error)
        }
    }
}
