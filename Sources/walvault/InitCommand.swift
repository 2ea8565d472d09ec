import ArgumentParser
import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultPipeline
import WalvaultPolicy
import WalvaultService
import WalvaultSetup
import WalvaultStores
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

extension ScheduleInstaller.Kind: ExpressibleByArgument {}

/// `walvault init`: from an unprotected cluster to a proven one. Every step can run again: what
/// is already as wanted is left alone and said so, so an init killed between two steps is
/// finished by running it again, and a second init on a protected cluster changes nothing.
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Protect a running PostgreSQL cluster: stores, config, archive settings, a check, the first backup, schedules.",
        discussion:
            "Asks for what is missing at a terminal; with --yes, takes the flags and defaults. Store credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and WALVAULT_TELEGRAM_BOT_TOKEN (or are asked for), and go in 0600 files beside the config. Run it again at any time: it changes only what differs."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The cluster's data directory (SHOW data_directory).", valueName: "dir"))
    var pgdata: String?

    @Option(
        name: .customLong("store"),
        help: ArgumentHelp(
            "A store: local:PATH, s3://BUCKET/PREFIX?region=R[&endpoint=URL][&path_style=true] or telegram:CHAT_ID. Repeat for more; the first is written by archive-push itself, the others in the background.",
            valueName: "spec"))
    var stores: [String] = []

    @Flag(help: "Encrypt everything stored, with a new passphrase in a 0600 file beside the config.")
    var encrypt = false

    @Flag(help: "Do not ask: take the flags and the defaults.")
    var yes = false

    @Flag(help: "Restart PostgreSQL when archive_mode or wal_level need it (systemctl for a Debian cluster, else pg_ctl).")
    var restart = false

    @Flag(help: "Take the first base backup when none exists.")
    var backup = false

    @Option(help: ArgumentHelp("Install the nightly backup and the checks: cron or systemd.", valueName: "kind"))
    var schedule: ScheduleInstaller.Kind?

    @Flag(help: "Replace an existing config that differs (kept as .bak), and another program's archive_command.")
    var force = false

    @Option(help: ArgumentHelp("The cluster's name inside the stores (default: the data directory's name).", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("The spool: prefetched WAL and the queue of background stores.", valueName: "dir"))
    var spool = "/var/lib/walvault/spool"

    @Option(help: ArgumentHelp("Where --schedule writes its files.", valueName: "dir", visibility: .hidden))
    var scheduleDirectory: String?

    @Flag(help: "Print what init did as JSON at the end (docs/admin-guide.md, JSON output); warnings and errors stay on stderr.")
    var json = false

    /// `init --json`: each line init would have said, and whether the cluster ended protected.
    struct Summary: Encodable {
        let steps: [String]
        let protected: Bool
        let restorable_from: String?
    }

    /// The lines said so far, for `--json`.
    private final class Steps: @unchecked Sendable {
        var lines: [String] = []
    }

    private static let steps = Steps()

    @Flag(help: "Print an example of the config init writes (every key, commented) and exit; nothing is read or changed.")
    var printExample = false

    func validate() throws {
        if printExample { return }
        if yes, pgdata == nil { throw ValidationError("--yes needs --pgdata") }
        if yes, stores.isEmpty { throw ValidationError("--yes needs at least one --store") }
    }

    func run() throws {
        if printExample {
            print(Self.example.render(), terminator: "")
            return
        }
        do {
            try protect()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Output.fail("init", error)
            throw ExitCode(ErrorRegistry.exitStatus(of: error))
        }
    }

    private func say(_ text: String) {
        if json {
            Self.steps.lines.append(text)
        } else if !global.quiet {
            print("walvault init: \(text)")
        }
    }

    private var interactive: Bool { !yes && TerminalInput.isInteractive }

    private func protect() throws {
        // 1. The cluster.
        guard let given = pgdata ?? (interactive ? TerminalInput.ask("Data directory", suggested: Self.debianDefault) : nil) else {
            throw CommandError(problem: "no data directory", fix: "pass --pgdata DIR (psql -c 'SHOW data_directory' says which)")
        }
        let cluster = try DiscoveredCluster.discover(pgdata: given)
        say(
            "PostgreSQL \(cluster.majorVersion) at \(cluster.pgdata), system identifier \(cluster.systemIdentifier), owned by \(cluster.owner.name), port \(cluster.postmaster.port)"
        )
        let executable = try Self.executable(runnableBy: cluster.owner)
        let configPath = ConfigLocation.resolve(explicit: global.config)
        guard configPath.hasPrefix("/") else {
            throw CommandError(
                problem: "--config \(configPath) is not an absolute path", fix: "give the full path: archive_command runs in the data directory")
        }
        let configDirectory = Paths.dirname(configPath)
        let clusterName = name ?? cluster.suggestedName
        guard ClusterSettings.isValidName(clusterName) else {
            throw CommandError(problem: "--name \(clusterName) is not a usable name", fix: "use letters, digits, '-', '_' and '.', at most 64")
        }

        if schedule == .systemd, !FileSystem.isDirectory("/run/systemd/system") {
            throw CommandError(problem: "--schedule systemd, but systemd is not running on this machine", fix: "use --schedule cron")
        }

        // 2. The stores, checked before anything is written.
        var specs = stores
        if specs.isEmpty, interactive, let answer = TerminalInput.ask("Store (\(StoreSpec.forms))", suggested: "local:/var/backups/walvault") {
            specs = [answer]
            while let more = TerminalInput.ask("Another store, off-site (empty for none)"), !more.isEmpty { specs.append(more) }
        }
        guard !specs.isEmpty else {
            throw CommandError(problem: "no store", fix: "pass --store local:PATH (and an off-site one: --store s3://… or telegram:…)")
        }
        let planned = try Self.plan(specs: specs.map(StoreSpec.parse), configDirectory: configDirectory)
        let storeWarnings = try planned.compactMap { store -> String? in
            guard case .local(let path) = store.spec else { return nil }
            return try LocalStoreCheck.check(path: path, cluster: cluster)
        }
        // The archive settings, planned before anything is written: another archiver is refused here.
        let settings = ArchiveSettingsChange(conninfo: cluster.conninfo, configPath: configPath, executable: executable)
        _ = try ProcessIdentity.acting(as: cluster.owner) { try settings.planned(force: force) }
        // Said once nothing refused: a refusal stays the one line.
        for warning in storeWarnings { Output.warn("init", warning) }
        SetupFiles.removeAbandoned(in: configDirectory, startingWith: ".\(Paths.basename(configPath)).")

        let encrypted = encrypt || (interactive && TerminalInput.confirm("Encrypt everything stored, with a new passphrase", suggested: true))
        let passphraseFile = encrypted ? Paths.join(configDirectory, "passphrase") : nil
        let template = ConfigTemplate(
            clusterName: clusterName, pgdata: cluster.pgdata, conninfo: cluster.conninfo, spool: spool, stores: planned,
            passphraseFile: passphraseFile)
        let text = template.render()
        _ = try ConfigLoader.parse(text, path: configPath)
        let refusal =
            force
            ? nil
            : CommandError(
                problem: "\(configPath) exists and differs from the config init would write",
                fix: "pass --force to replace it (the old one is kept as \(configPath).bak), or --config another file")
        if let existing = try? FileSystem.readSmallFile(configPath, limit: 4 << 20), existing != Array(text.utf8), let refusal { throw refusal }

        // 3. Secrets, each in a 0600 file the cluster's owner reads.
        if let passphraseFile {
            let passphrase = Array(Hex.encode(try KeyDerivation.randomBytes(32)).utf8)
            if try SetupFiles.createSecret(passphraseFile, contents: passphrase + [10], owner: cluster.owner) {
                say(
                    "the passphrase is in \(passphraseFile). Keep a copy somewhere else now (a password manager, a safe): without it nothing in the stores can ever be restored"
                )
            } else {
                say("kept the passphrase already in \(passphraseFile)")
            }
        }
        for store in planned {
            for (key, file) in store.secretFiles.sorted(by: { $0.key < $1.key }) {
                guard !FileSystem.exists(file) else { continue }
                let value = try Self.secret(key: key, store: store.name)
                _ = try SetupFiles.createSecret(file, contents: Array(value.utf8) + [10], owner: cluster.owner)
                say("wrote \(key) of store \"\(store.name)\" to \(file) (0600, \(cluster.owner.name))")
            }
        }
        try SetupFiles.ownedDirectory(spool, owner: cluster.owner)

        // 4. Every store proven with a round trip, as the owner, through the config as it will be.
        let probeConfig = Paths.join(configDirectory, ".\(Paths.basename(configPath)).init-\(getpid())")
        try FileSystem.writeAtomically(probeConfig, contents: Array(text.utf8), mode: 0o600)
        do {
            try ProcessIdentity.giveOwnership(of: probeConfig, to: cluster.owner)
            try ProcessIdentity.acting(as: cluster.owner) {
                let context = try WalvaultContext.load(configPath: probeConfig)
                for warning in context.warnings { Output.warn("init", warning) }
                for store in context.stores {
                    try StoreProbe.roundTrip(store, cluster: clusterName)
                    say("store \"\(store.name)\": wrote, read back and deleted a probe at \(store.location)")
                    if let telegram = store.driver(as: TelegramStore.self) {
                        // A bot deletes its messages for 48 hours only: retention in a chat needs a topic per backup.
                        if let unfit = try telegram.forumUnfitness() {
                            Output.warn(
                                "init",
                                "store \"\(store.name)\": expire cannot delete anything older than 48 hours from this chat: \(unfit.problem); \(unfit.fix), then set forum_topics = true in \(configPath)"
                            )
                        } else {
                            say(
                                "store \"\(store.name)\": the chat is a forum and the bot may manage and delete topics: set forum_topics = true in \(configPath) so that expire deletes old backups from it"
                            )
                        }
                    }
                }
            }
            try FileSystem.remove(probeConfig)
        } catch {
            try? FileSystem.remove(probeConfig)
            throw error
        }
        // 0600 and the owner's, as walvault wants it: it says where the passphrase is.
        switch try SetupFiles.write(configPath, contents: Array(text.utf8), mode: 0o600, owner: cluster.owner, refusal: refusal) {
        case .created: say("wrote \(configPath)")
        case .unchanged: say("\(configPath) unchanged")
        case .replaced(let backup): say("replaced \(configPath); the old one is \(backup)")
        }

        // 5. The archive settings.
        let outcome = try ProcessIdentity.acting(as: cluster.owner) { try settings.apply(force: force) }
        for change in outcome.changes {
            say("ALTER SYSTEM SET \(change.name) = '\(change.to)' (was '\(change.from)')")
        }
        if outcome.changes.isEmpty { say("archive settings unchanged") }
        let restarter = ClusterRestart(cluster: cluster, logFile: Paths.join(spool, "postgresql.log"))
        if !outcome.pendingRestart.isEmpty {
            let wanted = restart || (interactive && TerminalInput.confirm("Restart PostgreSQL now (\(restarter.command))", suggested: false))
            guard wanted else {
                throw CommandError(
                    problem:
                        "\(outcome.pendingRestart.joined(separator: " and ")) \(outcome.pendingRestart.count == 1 ? "takes" : "take") effect only when PostgreSQL restarts, so nothing is archived yet",
                    fix: "run \(restarter.command), then walvault init again with the same flags (or pass --restart)")
            }
            say("restarting PostgreSQL for \(outcome.pendingRestart.joined(separator: " and ")): \(restarter.command)")
            try restarter.restart()
            let after = try ProcessIdentity.acting(as: cluster.owner) { try settings.apply(force: force) }
            guard after.pendingRestart.isEmpty else {
                throw CommandError(
                    problem: "after the restart, \(after.pendingRestart.joined(separator: " and ")) still wait for one",
                    fix: "check the server log, then run init again")
            }
        }

        // 8 before 6: installing schedules needs root, and the check and the backup run as the owner.
        if let schedule {
            guard ProcessIdentity.isRoot || scheduleDirectory != nil else {
                throw CommandError(problem: "--schedule \(schedule.rawValue) writes system files", fix: "run init as root")
            }
            let installer = ScheduleInstaller(
                kind: schedule, executable: executable, configPath: configPath, user: cluster.owner.name, directory: scheduleDirectory)
            for line in try installer.install() { say(line) }
        }

        // 6. The check walvault check runs, with its real round trip, as the archiver's user.
        try ProcessIdentity.become(cluster.owner)
        let context = try global.loadContext(for: "init")
        guard case .success(let checks) = global.run(CheckOperation(), command: "init", context: context, notes: .hidden).result else {
            throw CommandError(problem: "the check could not run", fix: "run walvault check to see why")
        }
        let newest = try context.newestBackup()
        var failed = false
        for check in checks {
            if check.name == "last backup", newest == nil { continue }
            say("check: \(check.line)")
            if !check.ok && check.name != "last backup" { failed = true }
        }
        if failed {
            throw CommandError(problem: "a check failed (above)", fix: "fix what it says, then run init again")
        }

        // 7. The first backup.
        var restorable = newest
        if backup {
            if let newest {
                say("backup \(newest.label) exists already: not taking another")
            } else {
                let outcome = global.run(BackupOperation(), command: "init", context: context)
                switch outcome.result {
                case .success(let report):
                    say("backup \(report.manifest.label) complete: \(report.manifest.totalSize) bytes in \(report.manifest.parts.count) parts")
                    restorable = report.manifest
                case .failure(let error):
                    throw error
                }
            }
        }
        if let oldest = restorable {
            say("protected: any moment from \(RecoveryTarget.formatUTC(oldest.stopTime)) on can be restored (walvault restore --target-time …)")
        } else {
            say("archiving works, but nothing is restorable until a base backup exists: run walvault backup (or init --backup)")
        }
        say(
            "next: walvault info shows what is stored; \(schedule == nil ? "schedule walvault backup nightly (init --schedule cron|systemd); " : "")docs/disaster-recovery.md is the runbook for the bad day"
        )
        if json {
            print(
                try ReportJSON.encode(
                    Summary(
                        steps: Self.steps.lines, protected: restorable != nil,
                        restorable_from: restorable.map { RecoveryTarget.formatUTC($0.stopTime) })))
        }
    }

    /// A Debian cluster with a local store on a second disk and an S3 bucket off-site, encrypted.
    static let example = ConfigTemplate(
        clusterName: "main", pgdata: "/var/lib/postgresql/15/main",
        conninfo: "host=/var/run/postgresql port=5432 user=postgres dbname=postgres", spool: "/var/lib/walvault/spool",
        stores: try! plan(
            specs: [
                .local(path: "/var/backups/walvault"),
                .s3(bucket: "my-backups", prefix: "db", endpoint: "https://s3.eu-central-1.amazonaws.com", region: "eu-central-1", pathStyle: false)
            ],
            configDirectory: "/etc/walvault"),
        passphraseFile: "/etc/walvault/passphrase")

    static let debianDefault: String? = {
        for version in SupportedPostgres.majorVersions.reversed() where FileSystem.isDirectory("/var/lib/postgresql/\(version)/main") {
            return "/var/lib/postgresql/\(version)/main"
        }
        return nil
    }()

    /// Names and modes: the first store is written by archive-push itself (sync); an off-site
    /// store after a local one is shipped in the background, so a slow cloud never stalls PostgreSQL.
    static func plan(specs: [StoreSpec], configDirectory: String) throws -> [ConfigTemplate.Store] {
        var names: [String] = []
        return try specs.enumerated().map { index, spec in
            var name = spec.type
            var n = 2
            while names.contains(name) {
                name = "\(spec.type)-\(n)"
                n += 1
            }
            names.append(name)
            let mode: StoreSettings.Mode
            switch spec {
            case .local: mode = .sync
            case .s3: mode = index == 0 ? .sync : .async
            case .telegram:
                guard index > 0 else {
                    throw CommandError(
                        problem: "a Telegram chat cannot be the first store: archive-push would wait on Telegram's pace for every segment",
                        fix: "put --store local:PATH or --store s3://… first; the chat then gets copies in the background")
                }
                mode = .async
            }
            var secrets: [String: String] = [:]
            switch spec {
            case .local: break
            case .s3:
                secrets["access_key_id_file"] = Paths.join(configDirectory, "\(name)-access-key-id")
                secrets["secret_access_key_file"] = Paths.join(configDirectory, "\(name)-secret-access-key")
            case .telegram:
                secrets["bot_token_file"] = Paths.join(configDirectory, "\(name)-bot-token")
            }
            return ConfigTemplate.Store(name: name, spec: spec, mode: mode, secretFiles: secrets)
        }
    }

    static let secretSources = [
        "access_key_id_file": "AWS_ACCESS_KEY_ID", "secret_access_key_file": "AWS_SECRET_ACCESS_KEY", "bot_token_file": "WALVAULT_TELEGRAM_BOT_TOKEN"
    ]

    /// From the environment, else asked without echo at a terminal.
    static func secret(key: String, store: String) throws -> String {
        let variable = secretSources[key]!
        if let value = Environment.value(variable), !value.isEmpty { return value }
        if TerminalInput.isInteractive, let typed = TerminalInput.secretLine(prompt: "\(variable) for store \"\(store)\": "), !typed.isEmpty {
            return typed
        }
        throw CommandError(
            problem: "store \"\(store)\" needs \(variable), and it is not set",
            fix: "export \(variable)=… before init (it goes in a 0600 file, never the config)")
    }

    /// This binary, by its real path: archive_command names it, and PostgreSQL's user must be able to run it.
    static func executable(runnableBy owner: ProcessIdentity.Account) throws -> String {
        guard let path = FileSystem.realPath("/proc/self/exe") else {
            throw CommandError(problem: "cannot tell where this walvault binary is (/proc is not mounted)", fix: "mount /proc")
        }
        let runnable = try ProcessIdentity.acting(as: owner) { access(path, X_OK) == 0 }
        guard runnable else {
            throw CommandError(
                problem: "\(owner.name) cannot run \(path), which archive_command would name",
                fix: "install walvault where \(owner.name) can run it (the package puts it in /usr/bin)")
        }
        return path
    }
}
