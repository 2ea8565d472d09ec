import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultPipeline
import WalvaultPostgres
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

public struct DumpRestoreOptions: Sendable {
    /// `<schema>/<time>`, as `walvault dump list` shows it.
    public var id: String
    public var intoSchema: String?
    public var replace = false
    public var database: String?
    /// Read from this store only.
    public var store: String?
    public var postgresBin: String?
    /// Where the dump is fetched to (an unnamed file) before it is verified and restored.
    public var workDirectory: String?

    public init(
        id: String, intoSchema: String? = nil, replace: Bool = false, database: String? = nil, store: String? = nil,
        postgresBin: String? = nil, workDirectory: String? = nil
    ) {
        self.id = id
        self.intoSchema = intoSchema
        self.replace = replace
        self.database = database
        self.store = store
        self.postgresBin = postgresBin
        self.workDirectory = workDirectory
    }
}

public struct DumpRestoreResult: Codable, Equatable, Sendable {
    public struct Table: Codable, Equatable, Sendable {
        public let name: String
        public let rows: Int
    }
    public let id: String
    public let database: String
    public let schema: String
    public let into: String
    public let store: String
    /// The schema that held `into` before, kept under this name.
    public let keptAside: String?
    /// What `--replace` set aside, as it was just before.
    public let replaced: [Table]
    public let tables: [Table]
    public let seconds: Double

    public var lines: [String] {
        var lines: [String] = []
        if let keptAside {
            lines.append(
                "schema \(into) was set aside as \(keptAside) (\(replaced.count) tables: \(replaced.map { "\($0.name) \($0.rows) rows" }.joined(separator: ", ")))"
            )
        }
        lines.append(
            "restored dump \(id) from store \"\(store)\" into schema \(into) of database \(database) in \(String(format2: seconds)) s: "
                + "\(tables.count) tables (\(tables.map { "\($0.name) \($0.rows) rows" }.joined(separator: ", ")))")
        return lines
    }
}

/// `walvault dump restore`: the dump fetched and its checksum verified before PostgreSQL sees a
/// byte, then pg_restore's SQL run by psql in one transaction, with the renames
/// `SchemaRestorePlan` decided around it: the restore either happens whole or not at all, and no
/// schema is ever dropped.
public struct DumpRestore {
    public let context: WalvaultContext
    public let options: DumpRestoreOptions

    public init(context: WalvaultContext, options: DumpRestoreOptions) {
        self.context = context
        self.options = options
    }

    public func run(events: OperationObserver = IgnoredEvents()) throws -> DumpRestoreResult {
        try events.run(
            "dump-restore", type: .database, subject: options.id,
            summary: { result in
                var facts = OperationFacts(objectName: result.id)
                facts.schema = result.into
                return ([], facts)
            }
        ) {
            try restore(progress: { events.receive(.progressed(note: $0)) }, warn: { events.receive(.warning($0)) })
        }
    }

    private func restore(progress: (String) -> Void, warn: (String) -> Void) throws -> DumpRestoreResult {
        if let into = options.intoSchema { _ = try SQLIdentifier.checkUserSchema(into, option: "--into-schema") }
        let stores = try storesToRead()
        let export = try ExportListing.find(
            id: options.id, in: try ExportListing.list(.dumps, stores: stores, layout: ArchiveLayout(cluster: context.config.cluster.name)))
        _ = try SQLIdentifier.checkUserSchema(export.subject, option: "dump \(options.id) of schema")
        let target = try DatabaseTarget(context: context, database: options.database, command: "dump restore")
        let db = try target.connect()
        let clock = Stopwatch()
        let now = WallClock.nowMicros()
        let compact = UTCTime.compact(now)  // YYYYMMDDTHHMMSSZ
        let stamp = String(compact.prefix(8)) + "_" + String(compact.dropFirst(9).prefix(6))
        let existing = Set(try db.query("SELECT nspname FROM pg_namespace").compactMap { $0[0] })
        let plan: SchemaRestorePlan
        switch SchemaRestorePlan.make(
            dumpSchema: export.subject, into: options.intoSchema, replace: options.replace, exists: existing.contains,
            stamp: stamp, holdName: "walvault_hold_" + Hex.encode(try KeyDerivation.randomBytes(8)))
        {
        case .success(let made): plan = made
        case .failure(let refusal):
            throw CommandError(problem: refusal.problem + " in database \(target.name)", fix: refusal.fix, errorCode: "input.invalid")
        }
        let programs = PostgresPrograms(explicitDirectory: options.postgresBin, major: try DatabaseTarget.major(db))
        let pgRestore = export.name.format == .custom ? try programs.path(of: "pg_restore") : nil
        let psql = try programs.path(of: "psql")

        // Fetched whole and verified before anything runs: a dump that fails its checksum is
        // never half restored.
        let (file, store) = try fetch(export, stores: stores, warn: warn)
        var replaced: [DumpRestoreResult.Table] = []
        if let aside = plan.aside {
            replaced = try Self.tables(of: plan.target, db)
            progress(
                "replacing schema \(plan.target) (\(replaced.count) tables: \(replaced.map { "\($0.name) \($0.rows) rows" }.joined(separator: ", "))); it is kept as \(aside), not dropped"
            )
        }
        progress("restoring \(export.id) (\(export.name.format.rawValue)) into schema \(plan.target) of database \(target.name)")
        try run(plan: plan, file: file, psql: psql, pgRestore: pgRestore, environment: target.environment(application: "walvault dump restore"))
        let tables = try Self.tables(of: plan.target, db)
        if plan.target != plan.dumpSchema {
            for function in try Self.functionsNaming(plan.dumpSchema, in: plan.target, db) {
                warn(
                    "function \(function) names schema \(plan.dumpSchema) in its text (body or search_path), which a rename cannot change: in \(plan.target) it still reads \(plan.dumpSchema); restore under the schema's own name (--replace) for an exact copy"
                )
            }
        }
        return DumpRestoreResult(
            id: export.id, database: target.name, schema: export.subject, into: plan.target, store: store,
            keptAside: plan.aside, replaced: replaced, tables: tables, seconds: clock.seconds)
    }

    private func storesToRead() throws -> [Store] {
        guard let name = options.store else { return context.stores }
        guard let store = context.stores.first(where: { $0.name == name }) else {
            throw CommandError(
                problem: "--store \(name): no such store in \(context.config.path)",
                fix: "use one of: \(context.stores.map(\.name).joined(separator: ", "))", errorCode: "input.invalid")
        }
        return [store]
    }

    /// The first copy that reads back whole and matches its checksum, in an unnamed file.
    private func fetch(_ export: StoredExport, stores: [Store], warn: (String) -> Void) throws -> (FileDescriptor, String) {
        try Self.fetchVerified(export, stores: stores, directory: try options.workDirectory ?? context.trustedSpool ?? "/var/tmp", warn: warn)
    }

    /// The first copy of `export` that reads back whole and matches its checksum, in an unnamed
    /// file in `directory` (gone when closed), rewound; and the store it came from. Nothing is
    /// handed on before the last byte is checked: a restore or a download never starts on a bad copy.
    package static func fetchVerified(
        _ export: StoredExport, stores: [Store], directory: String, warn: (String) -> Void
    ) throws -> (FileDescriptor, String) {
        var failures: [String] = []
        for (storeName, object) in export.copies {
            guard let store = stores.first(where: { $0.name == storeName }) else { continue }
            let file: FileDescriptor
            do {
                file = try FileDescriptor.openUnnamed(in: directory)
            } catch let error as SystemError {
                throw CommandError(
                    cause: error, problem: "cannot stage the dump in \(directory): \(error.reason)",
                    fix: "give a directory with room for it with --work-dir")
            }
            do {
                _ = try ObjectFetcher.fetch(object, from: store, into: FileSink(file: file))
                try file.rewind()
                // A bad copy is a warning only when another store's copy served.
                failures.forEach(warn)
                return (file, storeName)
            } catch let error as SystemError where error.code == ENOSPC || error.code == EDQUOT {
                // The staging directory is full: no store is to blame, and the next would fill it too.
                throw CommandError(
                    problem: "cannot stage dump \(export.id) in \(directory): \(error.reason)",
                    fix: "give a directory with room for the whole dump with --work-dir", errorCode: error.errorCode)
            } catch {
                failures.append("\(error)")
            }
        }
        throw CommandError(
            problem: "no store gave dump \(export.id) intact: \(failures.joined(separator: "; "))",
            fix: "run walvault verify; restore another dump (walvault dump list)",
            errorCode: "repository.damaged")
    }

    /// pg_restore ─► psql --single-transaction, the plan's renames before and after. pg_restore
    /// writes into psql's pipe itself, and walvault holds a write end of that pipe too: psql
    /// reaches the end of its input, and commits, only when walvault closes it, after pg_restore
    /// succeeded. A pg_restore that fails part-way gets psql killed first, so nothing commits.
    private func run(plan: SchemaRestorePlan, file: FileDescriptor, psql: String, pgRestore: String?, environment: [String]) throws {
        signal(SIGPIPE, SIG_IGN)
        var arguments = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
        if !plan.before.isEmpty { arguments += ["-c", plan.before.joined(separator: "; ")] }
        arguments += ["-f", "-"]
        if !plan.after.isEmpty { arguments += ["-c", plan.after.joined(separator: "; ")] }
        let psqlErrors = try CapturedOutput()
        let env = PostgresPrograms.cEnvironment(environment)
        defer { PostgresPrograms.release(env) }
        let fix = "nothing was changed (the restore is one transaction); fix what it says and run it again"
        guard let pgRestore else {
            let status = try ChildProcess.wait(
                try ChildProcess.spawn(
                    psql, arguments, input: .descriptor(file.raw), output: .devNull,
                    error: .descriptor(psqlErrors.file.raw), environment: env), executable: psql)
            guard status == 0 else { throw PipedProgram.failure("psql", status: status, errors: psqlErrors, fix: fix) }
            return
        }
        let pipe = try ChildProcess.pipe()
        let child = try ChildProcess.spawn(
            psql, arguments, input: .descriptor(pipe.read.raw), output: .devNull,
            error: .descriptor(psqlErrors.file.raw), environment: env)
        try? pipe.read.close()
        func stopPsql() {
            kill(child, SIGKILL)
            _ = try? ChildProcess.wait(child, executable: psql)
        }
        let restoreErrors: CapturedOutput
        let restoreStatus: Int32
        do {
            restoreErrors = try CapturedOutput()
            restoreStatus = try ChildProcess.wait(
                try ChildProcess.spawn(
                    pgRestore, ["--no-password", "-f", "-"], input: .descriptor(file.raw), output: .descriptor(pipe.write.raw),
                    error: .descriptor(restoreErrors.file.raw), environment: env), executable: pgRestore)
        } catch {
            stopPsql()
            throw error
        }
        guard restoreStatus == 0 else {
            // psql stopping on an error is what breaks pg_restore's output: its error is the one
            // that matters. Otherwise pg_restore failed on its own, and psql, still waiting for
            // the rest of its input, is killed before it could commit.
            if let status = ChildProcess.status(of: child, within: 1), status != 0 {
                throw PipedProgram.failure("psql", status: status, errors: psqlErrors, fix: fix)
            }
            stopPsql()
            throw PipedProgram.failure("pg_restore", status: restoreStatus, errors: restoreErrors, fix: fix)
        }
        try? pipe.write.close()
        let status = try ChildProcess.wait(child, executable: psql)
        guard status == 0 else { throw PipedProgram.failure("psql", status: status, errors: psqlErrors, fix: fix) }
    }

    /// Functions of `schema` whose source or settings name `original` as text (views and defaults
    /// refer to objects by OID, and follow the rename; function bodies do not).
    package static func functionsNaming(_ original: String, in schema: String, _ db: PostgresConnection) throws -> [String] {
        try db.query(
            """
            SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = $1 AND (position($2 || '.' IN p.prosrc) > 0 OR position($2 IN coalesce(array_to_string(p.proconfig, ' '), '')) > 0)
            ORDER BY 1
            """, [schema, original]
        ).compactMap { $0[0] }
    }

    /// Every table of the schema with its row count.
    package static func tables(of schema: String, _ db: PostgresConnection) throws -> [DumpRestoreResult.Table] {
        let statements = try db.query(
            """
            SELECT c.relname, format('SELECT count(*) FROM %I.%I', n.nspname, c.relname)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname
            """, [schema])
        return try statements.map { row in
            DumpRestoreResult.Table(name: row[0] ?? "?", rows: Int(try db.value(row[1] ?? "")) ?? 0)
        }
    }
}
