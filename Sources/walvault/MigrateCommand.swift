import ArgumentParser
import WalvaultCommands
import WalvaultConfig
import WalvaultHistory
import WalvaultPostgres

struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the control-plane schema ([history] conninfo). Safe to run twice or at once.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        do {
            // Only the config: the history needs no store and no passphrase.
            let config = try ConfigLoader.load(path: ConfigLocation.resolve(explicit: global.config))
            guard let settings = config.history else {
                throw CommandError(problem: "config \(config.path) has no [history] section", fix: "add [history] with conninfo and project_id")
            }
            let recorder = HistoryRecorder(settings: settings)
            let db = try PostgresConnection(conninfo: settings.conninfo, database: .controlPlane)
            let outcome = try Migrator.migrate(db)
            let replayed = try recorder.replay(db)
            print(outcome.summary)
            if replayed > 0 { print("replayed \(replayed) records from the journal \(settings.journalFile)") }
        } catch {
            Output.fail("migrate", "\(error)")
            throw ExitCode(ExitCodes.failure)
        }
    }
}
