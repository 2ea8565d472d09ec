import ArgumentParser
import WalvaultCatalog
import WalvaultConfig
import WalvaultDrill
import WalvaultKit
import WalvaultService
import WalvaultSystem

struct DrillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "Prove a backup restores: restore it into a temporary directory, start PostgreSQL there, recover, promote and read every table.",
        discussion:
            "Restores the newest backup (or --backup) into a new directory under --directory, starts PostgreSQL on it on a free loopback port with archiving and replication off, waits until recovery reaches the end of the archived WAL (or --target-time) and promotes, then runs SELECT count(*) on every table of every database and amcheck's bt_index_check on every B-tree index (postgresql-contrib). Reports the restore and recovery times and the row counts, records the result in the history table (database / drill), alerts on failure, stops the server and removes the directory unless --keep. Run it as the cluster's owner (postgres); it never touches the production cluster, its port or its tablespaces."
    )

    @OptionGroup var global: GlobalOptions

    @Option(
        help: ArgumentHelp(
            "Start from this backup instead of the newest one; recovery still runs to --target-time or the end of the archive.", valueName: "label"))
    var backup: String?

    @Option(help: ArgumentHelp("Recover to this moment instead of the end of the archive: 'YYYY-MM-DD HH:MM:SS[.ffffff][+TZ]'.", valueName: "time"))
    var targetTime: String?

    @Flag(help: "Keep the directory (stopped) for inspection.")
    var keep = false

    @Option(help: ArgumentHelp("Where the drill's directory is made; it needs room for the whole database.", valueName: "dir"))
    var directory = "/var/tmp"

    @Option(
        name: .customLong("postgres-bin"),
        help: ArgumentHelp("PostgreSQL's programs (default: /usr/lib/postgresql/<version>/bin, else PATH).", valueName: "dir"))
    var postgresBin: String?

    @Option(
        help: ArgumentHelp(
            "Give up when recovery takes longer: seconds, more than 0 and at most \(Int(DurationArgument.maximum)) (a week); default 3600.",
            valueName: "seconds"),
        transform: DurationArgument.parse)
    var timeout: DurationArgument = DurationArgument(seconds: 3600)

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if let targetTime, RecoveryTarget.parseTime(targetTime) == nil {
            throw ValidationError("--target-time '\(targetTime)' is not 'YYYY-MM-DD HH:MM:SS[.ffffff][+TZ]'")
        }
    }

    func run() throws {
        let configPath = ConfigLocation.resolve(explicit: global.config)
        let context = try global.loadContext(for: "drill")
        let binary = FileSystem.realPath("/proc/self/exe") ?? CommandLine.arguments[0]
        let absoluteConfig = FileSystem.realPath(configPath) ?? configPath
        let parent = directory.hasPrefix("/") ? directory : Paths.join(FileSystem.realPath(".") ?? ".", directory)
        let options = DrillOptions(
            backupLabel: backup, target: targetTime.map { .time(RecoveryTarget.parseTime($0)!) } ?? .latest, keep: keep,
            parentDirectory: parent, postgresBin: postgresBin, restoreCommand: "\(binary) --config \(absoluteConfig)",
            timeoutSeconds: Int(timeout.seconds))
        let outcome = global.run(DrillOperation(options: options), command: "drill", context: context, notes: json ? nil : .stdout)
        switch outcome.result {
        case .success(let report):
            print(json ? ((try? report.json()) ?? "") : report.lines.joined(separator: "\n"))
        case .failure(let error):
            if let failure = error as? DrillFailure {
                print(json ? ((try? failure.report.json()) ?? "") : failure.report.lines.joined(separator: "\n"))
            }
            Output.fail("drill", error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}
