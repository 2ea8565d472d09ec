import ArgumentParser
import WalvaultConfig
import WalvaultKit
import WalvaultStores
import WalvaultSystem

/// Options every subcommand shares. Declared in the root command and each subcommand, so
/// `walvault --config F archive-push %p` and `walvault archive-push --config F %p` both work.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The walvault TOML config.",
            discussion: "Default: $\(ConfigLocation.environmentVariable), else \(ConfigLocation.defaultPath).",
            valueName: "file"))
    var config: String?

    @Flag(name: .long, help: "Print a line about what was done, even on success.")
    var verbose = false

    @Flag(name: .long, help: "No progress: neither the status line on a terminal nor the phase lines without one.")
    var quiet = false

    @Option(
        name: .customLong("log-format"),
        help: ArgumentHelp(
            "How messages on stderr are written: text (walvault <command>: …) or json (one object per line).", valueName: "format"))
    var logFormat: LogFormat = .text

    /// The config and its stores, or one error line and `failure` as the exit status.
    func loadContext(for command: String, failure: Int32 = ExitCodes.failure) throws -> WalvaultContext {
        StoreNotices.install { Output.warn(command, $0) }
        do {
            let context = try WalvaultContext.load(configPath: ConfigLocation.resolve(explicit: config))
            if context.keyRing != nil { ProcessHardening.disableCoreDumps() }
            for warning in context.warnings { Output.warn(command, warning) }
            return context
        } catch {
            Output.fail(command, error)
            throw ExitCode(failure)
        }
    }
}
