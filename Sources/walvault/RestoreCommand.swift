import ArgumentParser
import WalvaultBackup
import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultService
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Rebuild a data directory from the stores, ready to recover to a moment.",
        discussion: """
            Chooses the newest complete backup that finished before the target (or --backup), checks that every WAL segment \
            from it to the target is in the stores, then writes the files, backup_label, recovery.signal and the recovery \
            settings. Start the server afterwards; it replays WAL, stops at the target and promotes to a new timeline.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The data directory to create. It must be empty or absent unless --force.", valueName: "dir"))
    var pgdata: String

    @Option(
        help: ArgumentHelp("Recover to this moment: 'YYYY-MM-DD HH:MM:SS[.ffffff][+TZ]' (no offset: this machine's time zone).", valueName: "time"))
    var targetTime: String?

    @Option(help: ArgumentHelp("'latest': replay all archived WAL.", valueName: "latest"))
    var target: String?

    @Option(
        help: ArgumentHelp(
            "Start from this backup instead of the one walvault would choose; --target-time or --target is still needed and says where recovery stops.",
            valueName: "label"))
    var backup: String?

    @Flag(
        help:
            "Print the plan (backup, WAL range, timelines, destination, what --force deletes) after every check the real run makes, and write nothing."
    )
    var dryRun = false

    @Flag(
        help: ArgumentHelp(
            "Delete the contents of a non-empty --pgdata (and tablespace locations) first.",
            discussion: """
                Only a PostgreSQL data directory (PG_VERSION and global/pg_control) or an interrupted walvault restore, and \
                tablespace locations holding only PG_<version>_<catalog> directories; never /, a directory with a file \
                system mounted below it, or one a running server uses. --dry-run --force lists every entry it would delete.
                """))
    var force = false

    @Flag(help: "Print the plan (with --dry-run) or what was restored as JSON (docs/admin-guide.md, JSON output).")
    var json = false

    /// `restore --json`.
    struct Summary: Encodable {
        let pgdata: String
        let target: String
        let files: Int
        let bytes: Int
        let seconds: Double
    }

    /// `restore --dry-run --json`: the plan's lines, as the text shows them.
    struct Plan: Encodable {
        let dry_run = true
        let plan: [String]
    }

    func validate() throws {
        guard (targetTime == nil) != (target == nil) else {
            throw ValidationError("give exactly one of --target-time 'YYYY-MM-DD HH:MM:SS+TZ' or --target latest")
        }
        if let target, target != "latest" { throw ValidationError("--target accepts only 'latest'; use --target-time for a moment") }
        if let targetTime, RecoveryTarget.parseTime(targetTime) == nil {
            throw ValidationError("--target-time '\(targetTime)' is not 'YYYY-MM-DD HH:MM:SS[.ffffff][+TZ]'")
        }
    }

    func run() throws {
        let configPath = ConfigLocation.resolve(explicit: global.config)
        let context = try global.loadContext(for: "restore")
        do {
            let recoveryTarget: RecoveryTarget = targetTime.map { .time(RecoveryTarget.parseTime($0)!) } ?? .latest
            let binary = FileSystem.realPath("/proc/self/exe") ?? CommandLine.arguments[0]
            let absoluteConfig = FileSystem.realPath(configPath) ?? configPath
            let directory = pgdata.hasPrefix("/") ? pgdata : Paths.join(FileSystem.realPath(".") ?? ".", pgdata)
            let options = RestoreOptions(
                pgdata: directory, target: recoveryTarget, backupLabel: backup, force: force,
                restoreCommand: "\(binary) --config \(absoluteConfig)")
            let restore = Restore(context: context, options: options)
            if dryRun {
                let lines = try restore.plan().lines
                if json {
                    print(try ReportJSON.encode(Plan(plan: lines)))
                } else {
                    lines.forEach { print($0) }
                    print("dry run: nothing was written")
                }
                return
            }
            let outcome = global.run(RestoreOperation(options: options), command: "restore", context: context, notes: json ? .stderr : .stdout)
            if outcome.wasCancelled, case .failure(let error) = outcome.result {
                Output.fail("restore", error)
                throw ExitCode(ExitCodes.cancelled)
            }
            let report = try outcome.result.get()
            if json {
                print(
                    try ReportJSON.encode(
                        Summary(
                            pgdata: directory, target: targetTime ?? "latest", files: report.files, bytes: report.bytes, seconds: report.seconds)))
                if geteuid() == 0 {
                    Output.warn("restore", "the files belong to root; run chown -R postgres: \(directory) before starting the server")
                }
                return
            }
            print("restored \(report.files) files (\(report.bytes) bytes) into \(directory) in \(String(format2: report.seconds)) s")
            print("next: start the server (as the postgres user: pg_ctl -D \(directory) start, or systemctl start postgresql);")
            print("      it replays WAL from the stores, stops at the target and promotes. Watch the server log, and")
            print("      SELECT pg_is_in_recovery(); returns false once it has promoted.")
            if geteuid() == 0 {
                Output.warn("restore", "the files belong to root; run chown -R postgres: \(directory) before starting the server")
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Output.fail("restore", error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}
