import WalvaultKit
import WalvaultSchedules
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Step 8 of init: the nightly backup and the checks, from postgres-conf/'s files with this
/// machine's binary, config and PostgreSQL user written in.
public struct ScheduleInstaller {
    public enum Kind: String, CaseIterable, Sendable {
        case cron
        case systemd
    }

    public let kind: Kind
    public let executable: String
    public let configPath: String
    public let user: String
    /// /etc/cron.d or /etc/systemd/system; a test points it elsewhere.
    public let directory: String

    public init(kind: Kind, executable: String, configPath: String, user: String, directory: String? = nil) {
        self.kind = kind
        self.executable = executable
        self.configPath = configPath
        self.user = user
        self.directory = directory ?? (kind == .cron ? "/etc/cron.d" : "/etc/systemd/system")
    }

    public var files: [Schedules.File] {
        (kind == .cron ? Schedules.cron : Schedules.systemdUnits).map {
            Schedules.File(name: $0.name, text: Schedules.render($0.text, executable: executable, config: configPath, user: user))
        }
    }

    /// - Returns: one line per file and per enabled timer, saying what changed.
    public func install() throws -> [String] {
        if kind == .systemd {
            guard FileSystem.isDirectory("/run/systemd/system") else {
                throw CommandError(problem: "systemd is not running on this machine", fix: "use --schedule cron")
            }
        }
        guard FileSystem.isDirectory(directory) else {
            throw CommandError(
                problem: "\(directory) does not exist",
                fix: kind == .cron ? "install cron (apt-get install cron), or use --schedule systemd" : "use --schedule cron")
        }
        var lines: [String] = []
        for file in files {
            let path = Paths.join(directory, file.name)
            let outcome = try SetupFiles.write(path, contents: Array(file.text.utf8), mode: 0o644, owner: nil, refusal: nil)
            switch outcome {
            case .created: lines.append("installed \(path)")
            case .unchanged: lines.append("\(path) unchanged")
            case .replaced(let backup): lines.append("replaced \(path) (the old one is \(backup))")
            }
        }
        if kind == .systemd {
            try systemctl(["daemon-reload"])
            try systemctl(["enable", "--now"] + Schedules.timers)
            lines.append("enabled \(Schedules.timers.joined(separator: ", "))")
        }
        return lines
    }

    private func systemctl(_ arguments: [String]) throws {
        let output = try CapturedOutput()
        let child = try ChildProcess.spawn("/usr/bin/systemctl", arguments, input: .devNull, output: .descriptor(output.file.raw), error: nil)
        let status = try ChildProcess.wait(child, executable: "systemctl")
        guard status == 0 else {
            throw CommandError(
                problem: "systemctl \(arguments.joined(separator: " ")) failed (exit \(status)): \(output.line())", fix: "see journalctl -xe")
        }
    }
}
