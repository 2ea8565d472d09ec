import ArgumentParser
import Logging
import WalvaultPolicy
import WalvaultSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// `--log-format`: the lines a person reads in PostgreSQL's log, or one JSON object per line for
/// a log collector (time, level, command, message, and what the line is about: job id, error
/// code, store).
enum LogFormat: String, CaseIterable, ExpressibleByArgument {
    case text
    case json

    /// Chosen before the command line is parsed, so that a usage error is already in the format
    /// asked for: the last `--log-format X` or `--log-format=X` wins, as the parser would decide.
    static func requested(in arguments: [String]) -> LogFormat {
        var format = LogFormat.text
        for (index, argument) in arguments.enumerated() {
            if argument == "--log-format", index + 1 < arguments.count, let chosen = LogFormat(rawValue: arguments[index + 1]) {
                format = chosen
            } else if argument.hasPrefix("--log-format="), let chosen = LogFormat(rawValue: String(argument.dropFirst("--log-format=".count))) {
                format = chosen
            }
        }
        return format
    }
}

/// swift-log's handler for walvault: each message is one line on stderr, written with one
/// write(2) so that lines of concurrent archive-push runs never interleave in the server log.
struct LogLineHandler: LogHandler {
    let format: LogFormat
    /// The logger's label: the command, or "" for walvault itself.
    let command: String
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let message = event.message.description.split(whereSeparator: \.isNewline).joined(separator: " ")
        let text: String
        switch format {
        case .text:
            let prefix: String
            switch event.level {
            case .error, .critical: prefix = "error: "
            case .warning: prefix = "warning: "
            default: prefix = ""
            }
            text = "walvault\(command.isEmpty ? "" : " " + command): \(prefix)\(message)"
        case .json:
            var object: [String: String] = [
                "time": UTCCalendar(micros: WallClock.nowMicros()).rfc3339Text, "level": Self.levelName(event.level),
                "command": command.isEmpty ? "walvault" : command, "message": message
            ]
            for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { object[key] = "\(value)" }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            guard let bytes = try? encoder.encode(object) else { return }
            text = String(decoding: bytes, as: UTF8.self)
        }
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    static func levelName(_ level: Logger.Level) -> String {
        switch level {
        case .critical, .error: return "error"
        case .warning: return "warning"
        case .notice, .info: return "info"
        case .debug, .trace: return "debug"
        }
    }
}
