/// The cron files and systemd units of this directory, compiled into walvault, which `walvault
/// init --schedule` installs with this machine's binary, config and PostgreSQL user written in:
/// the same text as the repository's and the package's, never a copy to keep in step.
public enum Schedules {
    public struct File: Sendable {
        public let name: String
        public let text: String

        public init(name: String, text: String) {
            self.name = name
            self.text = text
        }
    }

    /// /etc/cron.d reads files whose names have no dot.
    public static let cron: [File] = [
        File(name: "walvault-backup", text: String(decoding: PackageResources.walvault_backup_cron, as: UTF8.self)),
        File(name: "walvault-checks", text: String(decoding: PackageResources.walvault_checks_cron, as: UTF8.self))
    ]

    public static let systemdUnits: [File] = [
        File(name: "walvault-backup.service", text: String(decoding: PackageResources.walvault_backup_service, as: UTF8.self)),
        File(name: "walvault-backup.timer", text: String(decoding: PackageResources.walvault_backup_timer, as: UTF8.self)),
        File(name: "walvault-check.service", text: String(decoding: PackageResources.walvault_check_service, as: UTF8.self)),
        File(name: "walvault-check.timer", text: String(decoding: PackageResources.walvault_check_timer, as: UTF8.self)),
        File(name: "walvault-verify.service", text: String(decoding: PackageResources.walvault_verify_service, as: UTF8.self)),
        File(name: "walvault-verify.timer", text: String(decoding: PackageResources.walvault_verify_timer, as: UTF8.self)),
        File(name: "walvault-drill.service", text: String(decoding: PackageResources.walvault_drill_service, as: UTF8.self)),
        File(name: "walvault-drill.timer", text: String(decoding: PackageResources.walvault_drill_timer, as: UTF8.self)),
        File(name: "walvault-ship.service", text: String(decoding: PackageResources.walvault_ship_service, as: UTF8.self)),
        File(name: "walvault-files.service", text: String(decoding: PackageResources.walvault_files_service, as: UTF8.self)),
        File(name: "walvault-files.timer", text: String(decoding: PackageResources.walvault_files_timer, as: UTF8.self))
    ]

    /// The timers `--schedule systemd` enables; the ship service stays optional (archive-push
    /// starts a shipper by itself), and so does the files timer (a config has no [[storage]]
    /// until its owner adds one).
    public static let timers = ["walvault-backup.timer", "walvault-check.timer", "walvault-verify.timer", "walvault-drill.timer"]

    /// The text as this machine needs it. The files name the package's paths and the postgres user.
    public static func render(_ text: String, executable: String, config: String, user: String) -> String {
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(line)
            line = line.replacing("/usr/bin/walvault", with: executable).replacing("/etc/walvault/walvault.toml", with: config)
            if line == "User=postgres" { line = "User=\(user)" }
            if line == "Group=postgres" { line = "Group=\(user)" }
            // A cron line's sixth field is the user.
            if !line.hasPrefix("#"), !line.utf8.contains(UInt8(ascii: "=")), line.split(separator: " ").count > 6 {
                var fields = line.split(separator: " ", maxSplits: 6, omittingEmptySubsequences: false).map(String.init)
                if fields[5] == "postgres" { fields[5] = user }
                line = fields.joined(separator: " ")
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
