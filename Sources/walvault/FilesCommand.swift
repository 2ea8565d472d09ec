import ArgumentParser
import WalvaultCatalog
import WalvaultConfig
import WalvaultFiles
import WalvaultKit
import WalvaultService
import WalvaultSystem

struct FilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files",
        abstract: "Back up the application's files ([[storage]] trees) beside the database; list and restore snapshots.",
        subcommands: [FilesBackupCommand.self, FilesListCommand.self, FilesRestoreCommand.self])
}

struct FilesBackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take a snapshot of every [[storage]] tree, or of the one named.",
        discussion:
            "Cuts files into content-defined chunks, stores each chunk no store holds yet in packs of up to 16 MiB in every sync store, queues them for the async ones, and names the snapshot last. A file whose size, mtime, ctime and inode are unchanged since the last snapshot is not read again."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Only the [[storage]] entry of this name.", valueName: "name"))
    var name: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let context = try global.loadContext(for: "files backup")
        let trees: [StorageSettings]
        do {
            trees = try FilesBackup(context: context).trees(named: name)
        } catch {
            Output.fail("files backup", error)
            throw ExitCode(ExitCodes.failure)
        }
        let cancellation = SignalCancellation.install(command: "files backup")
        var outcomes: [(tree: String, outcome: Result<FilesSnapshotResult, Error>)] = []
        for tree in trees where !cancellation.isCancelled {
            let outcome = global.run(FilesBackupOperation(tree: tree), command: "files backup", context: context, cancellation: cancellation)
            outcomes.append((tree.name, outcome.result))
        }
        let results = outcomes.compactMap { try? $0.outcome.get() }
        if json {
            print((try? ReportJSON.encode(results)) ?? "[]")
        } else {
            for result in results { print(result.line) }
        }
        var failed = false
        for case (let tree, .failure(let error)) in outcomes {
            failed = true
            Output.fail("files backup", trees.count > 1 ? "\(tree): \(error)" : "\(error)", fields: ["error_code": "\(ErrorCodes.of(error))"])
        }
        if cancellation.isCancelled { throw ExitCode(ExitCodes.cancelled) }
        if failed { throw ExitCode(ExitCodes.failure) }
    }
}

struct FilesListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the files snapshots: time, files, bytes and new bytes, and the stores that hold each.")

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Only this tree's snapshots.", valueName: "name"))
    var name: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let context = try global.loadContext(for: "files list")
        do {
            let items = try FilesList(context: context).run(name: name)
            print(json ? try ReportJSON.encode(items) : FilesList.lines(items).joined(separator: "\n"))
        } catch {
            Output.fail("files list", error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}

struct FilesRestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a files snapshot, or one file or directory of it, into a directory.",
        discussion:
            "Reads each pack the files need once, checks every chunk against its name and every file against its SHA-256, and gives files, directories and symlinks their mode, mtime and (as root) owner. --into must be empty or new; --force writes over the files the snapshot has there and leaves the others, but never into /, over mounts, or into a PostgreSQL data directory."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The [[storage]] tree.", valueName: "name"))
    var name: String

    @Option(
        name: .customLong("as-of"), help: ArgumentHelp("The newest snapshot taken at or before this time.", valueName: "YYYY-MM-DD HH:MM:SS[+TZ]"))
    var asOf: String?

    @Option(help: ArgumentHelp("The snapshot, as files list shows it (20261205T030000Z).", valueName: "id"))
    var snapshot: String?

    @Option(help: ArgumentHelp("Only this file or directory, relative to the tree's root.", valueName: "subpath"))
    var path: String?

    @Option(help: ArgumentHelp("The directory to restore into (created when missing).", valueName: "dir"))
    var into: String

    @Flag(help: "Write into a directory that is not empty, over the files the snapshot has.")
    var force = false

    @Option(help: ArgumentHelp("Read from this store only.", valueName: "name"))
    var store: String?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        if asOf != nil && snapshot != nil { throw ValidationError("give --as-of or --snapshot, not both") }
        if let asOf, RecoveryTarget.parseTime(asOf) == nil {
            throw ValidationError("--as-of '\(asOf)' is not 'YYYY-MM-DD HH:MM:SS[.ffffff][+TZ]'")
        }
    }

    func run() throws {
        let context = try global.loadContext(for: "files restore")
        let options = FilesRestoreOptions(
            name: name, snapshot: snapshot, asOf: asOf.flatMap(RecoveryTarget.parseTime), path: path, into: into, force: force, store: store)
        switch global.run(FilesRestoreOperation(options: options), command: "files restore", context: context).result {
        case .success(let result):
            print(json ? ((try? ReportJSON.encode(result)) ?? "{}") : result.lines.joined(separator: "\n"))
        case .failure(let error):
            Output.fail("files restore", error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}
