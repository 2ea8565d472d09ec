import ArgumentParser
import WalvaultBackup
import WalvaultCatalog
import WalvaultExports
import WalvaultKit
import WalvaultPipeline
import WalvaultService
import WalvaultSystem

/// Only the formats a dump can take, so that --help lists no value the command refuses.
enum DumpFormatArgument: String, CaseIterable, ExpressibleByArgument {
    case custom, plain
    var format: ExportFormat { self == .custom ? .custom : .plain }
}
extension CompressionAlgorithm: ExpressibleByArgument {}

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Dump one tenant's schema with pg_dump into the stores; list and restore dumps.",
        subcommands: [DumpCreateCommand.self, DumpListCommand.self, DumpRestoreCommand.self],
        defaultSubcommand: DumpCreateCommand.self)
}

struct DumpCreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Dump one schema (walvault dump --schema tenant_acme), or every tenant_… schema.",
        discussion:
            "Runs pg_dump of the server's major version for that schema only, streams its output through the pipeline (SHA-256, compression, encryption) into every sync store under <cluster>/dump/<schema>/<time>-<sha256>.dump, queues it for the async stores, and records it in the history table. Nothing is stored under a final name unless pg_dump finished well."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The schema to dump: ^[a-z_][a-z0-9_]{0,62}$, and it must exist.", valueName: "name"))
    var schema: String?

    @Flag(name: .customLong("all-tenants"), help: "Dump every schema named tenant_…, one dump each, continuing past a failure.")
    var allTenants = false

    @Option(help: ArgumentHelp("The database (default: the one [cluster] conninfo names).", valueName: "name"))
    var database: String?

    @Option(help: ArgumentHelp("custom (pg_restore; the default) or plain (SQL).", valueName: "format"))
    var format: DumpFormatArgument = .custom

    @Option(
        help: ArgumentHelp(
            "zstd, lz4, gzip or none (default: none for custom, which pg_dump compresses; [compression] for plain).", valueName: "algorithm"))
    var compression: CompressionAlgorithm?

    @Option(
        name: .customLong("postgres-bin"),
        help: ArgumentHelp("Where pg_dump is (default: /usr/lib/postgresql/<server version>/bin, else PATH).", valueName: "dir"))
    var postgresBin: String?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        guard (schema != nil) != allTenants else { throw ValidationError("give either --schema NAME or --all-tenants") }
    }

    func run() throws {
        let context = try global.loadContext(for: "dump")
        let dump = Dump(
            context: context, options: DumpOptions(database: database, format: format.format, compression: compression, postgresBin: postgresBin))
        let schemas: [String]
        do {
            schemas = try schema.map { [$0] } ?? dump.tenantSchemas()
        } catch {
            Output.fail("dump", error)
            throw ExitCode(ExitCodes.failure)
        }
        // Each schema its own job: its own history row, alert and status file; the next one runs
        // after a failure, not after a cancellation.
        let cancellation = SignalCancellation.install(command: "dump")
        var outcomes: [(schema: String, outcome: Result<DumpResult, Error>)] = []
        for schema in schemas where !cancellation.isCancelled {
            let outcome = global.run(
                DumpOperation(schema: schema, options: dump.options), command: "dump", context: context, cancellation: cancellation)
            outcomes.append((schema, outcome.result))
        }
        let results = outcomes.compactMap { try? $0.outcome.get() }
        if json {
            print((try? ReportJSON.encode(results)) ?? "[]")
        } else {
            for result in results { print(result.line) }
        }
        let failures = outcomes.filter { if case .failure = $0.outcome { return true } else { return false } }
        for failure in failures {
            if case .failure(let error) = failure.outcome {
                // A name from the database: shown escaped, so an escape code in it cannot drive the terminal.
                let schema = SQLIdentifier.shown(failure.schema)
                Output.fail("dump", allTenants ? "schema \(schema): \(error)" : "\(error)", fields: ["error_code": "\(ErrorCodes.of(error))"])
            }
        }
        if allTenants && outcomes.count > 1 { print("\(results.count) of \(outcomes.count) schemas dumped") }
        if cancellation.isCancelled { throw ExitCode(ExitCodes.cancelled) }
        if !failures.isEmpty { throw ExitCode(ExitCodes.failure) }
    }
}

struct DumpListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the stored dumps (ID, time, format, stores).")

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Only this schema's dumps.", valueName: "name"))
    var schema: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let context = try global.loadContext(for: "dump list")
        do {
            let items = try DumpList(context: context).run(schema: schema)
            print(json ? try ReportJSON.encode(items) : DumpList.lines(items).joined(separator: "\n"))
        } catch {
            Output.fail("dump list", error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}

struct DumpRestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a dump into a new schema (default <schema>_restored), or replace the live one with --replace.",
        discussion:
            "Fetches the dump, verifies its checksum, and runs pg_restore's SQL through psql in one transaction, renaming the schema on the way. A schema that exists is refused without --replace; with it, the old schema is kept as <name>_before_restore_<time>, never dropped, and its tables and row counts are printed first."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The dump, as walvault dump list shows it: <schema>/<time>.", valueName: "id"))
    var id: String

    @Option(
        name: .customLong("into-schema"),
        help: ArgumentHelp("Restore into this schema (default: <schema>_restored; with --replace, the schema itself).", valueName: "name"))
    var intoSchema: String?

    @Flag(help: "Replace the schema if it exists; the old one is kept aside, renamed.")
    var replace = false

    @Option(help: ArgumentHelp("The database (default: the one [cluster] conninfo names).", valueName: "name"))
    var database: String?

    @Option(help: ArgumentHelp("Read the dump from this store only.", valueName: "name"))
    var store: String?

    @Option(
        name: .customLong("work-dir"),
        help: ArgumentHelp("Where the dump is staged while it is verified (default: [cluster] spool, else /var/tmp).", valueName: "dir"))
    var workDir: String?

    @Option(
        name: .customLong("postgres-bin"),
        help: ArgumentHelp("Where pg_restore and psql are (default: /usr/lib/postgresql/<server version>/bin, else PATH).", valueName: "dir"))
    var postgresBin: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let context = try global.loadContext(for: "dump restore")
        let options = DumpRestoreOptions(
            id: id, intoSchema: intoSchema, replace: replace, database: database, store: store,
            postgresBin: postgresBin, workDirectory: workDir)
        let outcome = global.run(DumpRestoreOperation(options: options), command: "dump restore", context: context, notes: json ? nil : .stdout)
            .result
        switch outcome {
        case .success(let result):
            print(json ? ((try? ReportJSON.encode(result)) ?? "{}") : result.lines.joined(separator: "\n"))
        case .failure(let error):
            Output.fail("dump restore", error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}
