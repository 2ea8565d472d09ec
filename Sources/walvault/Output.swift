import Logging
import WalvaultKit
import WalvaultStores
import WalvaultSystem

/// Every message is one line on stderr, which PostgreSQL copies into its log: through swift-log,
/// as text (`walvault <command>: …`) or, with `--log-format json`, as one JSON object.
enum Output {
    /// Once, before the command line is parsed.
    static func start(format: LogFormat) {
        LoggingSystem.bootstrap { label in LogLineHandler(format: format, command: label) }
    }

    /// An empty command names walvault itself (a command line with no known subcommand).
    static func fail(_ command: String, _ message: String, fields: Logger.Metadata = [:]) {
        Logger(label: command).error("\(message)", metadata: fields)
    }

    /// An error with its stable code, and the store it happened in, as fields of a JSON line.
    static func fail(_ command: String, _ error: any Error, fields: Logger.Metadata = [:]) {
        var all = fields
        all["error_code"] = "\(ErrorCodes.of(error))"
        if let store = (error as? StoreError)?.store { all["store"] = "\(store)" }
        fail(command, "\(error)", fields: all)
    }

    static func warn(_ command: String, _ message: String, fields: Logger.Metadata = [:]) {
        Logger(label: command).warning("\(message)", metadata: fields)
    }

    static func info(_ command: String, _ message: String, fields: Logger.Metadata = [:]) {
        Logger(label: command).info("\(message)", metadata: fields)
    }
}
