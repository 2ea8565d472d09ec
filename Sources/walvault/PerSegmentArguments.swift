import ArgumentParser

/// archive-push and archive-get start once per WAL segment, and ArgumentParser spends about a
/// fifth of such a start (1.2 ms of 5.6, `perf record` of 200 starts) reflecting over the commands'
/// properties and looking up their conformances. PostgreSQL's archive_command and restore_command
/// pass the same few words every time: those are read here. Anything else (another option, one
/// given twice, a value that looks like an option, a missing or extra argument) goes to
/// ArgumentParser, which accepts or refuses it with its own message and status.
enum PerSegmentArguments {
    static func command(_ arguments: [String]) -> ParsableCommand? {
        var config: String?
        var verbose = false
        var quiet = false
        var format: LogFormat?
        var words: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let following: String? = index + 1 < arguments.count ? arguments[index + 1] : nil
            switch argument {
            case "--verbose":
                guard !verbose else { return nil }
                verbose = true
            case "--quiet":
                guard !quiet else { return nil }
                quiet = true
            case "--config":
                guard config == nil, let following, !following.isEmpty, !following.hasPrefix("-") else { return nil }
                config = following
                index += 1
            case "--log-format":
                guard format == nil, let following, let chosen = LogFormat(rawValue: following) else { return nil }
                format = chosen
                index += 1
            default:
                if argument.hasPrefix("--config=") {
                    let value = String(argument.dropFirst("--config=".count))
                    guard config == nil, !value.isEmpty else { return nil }
                    config = value
                } else if argument.hasPrefix("--log-format=") {
                    guard format == nil, let chosen = LogFormat(rawValue: String(argument.dropFirst("--log-format=".count))) else { return nil }
                    format = chosen
                } else {
                    guard !argument.isEmpty, !argument.hasPrefix("-") else { return nil }
                    words.append(argument)
                }
            }
            index += 1
        }
        var global = GlobalOptions()
        global.config = config
        global.verbose = verbose
        global.quiet = quiet
        global.logFormat = format ?? .text
        switch words.first {
        case ArchivePushCommand.configuration.commandName where words.count == 2:
            var command = ArchivePushCommand()
            command.global = global
            command.path = words[1]
            return command
        case ArchiveGetCommand.configuration.commandName where words.count == 3:
            var command = ArchiveGetCommand()
            command.global = global
            command.fileName = words[1]
            command.destination = words[2]
            return command
        default:
            return nil
        }
    }
}
