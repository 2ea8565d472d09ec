import WalvaultCatalog
import WalvaultConfig
import WalvaultHistory
import WalvaultKit
import WalvaultPipeline
import WalvaultPostgres
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

public struct DumpOptions: Sendable {
    public var database: String?
    public var format: ExportFormat = .custom
    /// nil: none for the custom format (pg_dump compresses it), `[compression]` for plain SQL.
    public var compression: CompressionAlgorithm?
    /// `--postgres-bin`: where pg_dump is; nil: Debian's directory for the server's version, else PATH.
    public var postgresBin: String?

    public init(database: String? = nil, format: ExportFormat = .custom, compression: CompressionAlgorithm? = nil, postgresBin: String? = nil) {
        self.database = database
        self.format = format
        self.compression = compression
        self.postgresBin = postgresBin
    }
}

/// One stored dump, as `walvault dump` reports it.
public struct DumpResult: Codable, Equatable, Sendable {
    public let schema: String
    public let database: String
    public let id: String
    public let key: String
    public let format: String
    public let compression: String
    /// Bytes pg_dump wrote.
    public let size: Int
    public let sha256: String
    /// Per sync store, the object's size there.
    public let stored: [String: Int]
    public let queuedFor: [String]
    public let seconds: Double

    public var line: String {
        let where_ = stored.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
        let queued = queuedFor.isEmpty ? "" : "; queued for " + queuedFor.map { "\"\($0)\"" }.joined(separator: ", ")
        return
            "dumped schema \(schema) of database \(database) as \(id): \(size) bytes (\(format)) in \(String(format2: seconds)) s, stored in \(where_)\(queued)"
    }
}

/// `walvault dump`: pg_dump of one schema (`--schema`, nothing else), streamed from its stdout
/// through the pipeline into the stores as it is written: nothing is staged on the local disk,
/// and nothing exists under a final name unless pg_dump finished well.
public struct Dump {
    public let context: WalvaultContext
    public let options: DumpOptions

    public init(context: WalvaultContext, options: DumpOptions) {
        self.context = context
        self.options = options
    }

    public func run(schema: String, events: OperationObserver = IgnoredEvents()) throws -> DumpResult {
        try events.run("dump", type: .database, subject: schema, summary: summary) {
            try dump(schema: try SQLIdentifier.checkUserSchema(schema, option: "--schema"), warn: { events.receive(.warning($0)) })
        }
    }

    /// `--all-tenants`: one dump per schema named `tenant_…`, each its own operation (its own
    /// history rows), continuing past a failure. - Returns: each schema's outcome, in name order.
    public func runAll(events: (String) -> OperationObserver) throws -> [(schema: String, outcome: Result<DumpResult, Error>)] {
        try tenantSchemas().map { schema in
            (schema, Result { try run(schema: schema, events: events(schema)) })
        }
    }

    /// The schemas `--all-tenants` dumps: every `tenant_…` one but those a dump restore left aside.
    public func tenantSchemas() throws -> [String] {
        let target = try DatabaseTarget(context: context, database: options.database, command: "dump")
        let db = try target.connect()
        let schemas = try db.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY nspname").compactMap { $0[0] }
            .filter { !SchemaRestorePlan.isLeftByRestore($0) }
        guard !schemas.isEmpty else {
            throw CommandError(problem: "database \(target.name) has no schema named tenant_…", fix: "name the schema with --schema")
        }
        return schemas
    }

    package func summary(_ result: DumpResult) -> (stored: [(store: String, key: String, facts: OperationFacts)], facts: OperationFacts?) {
        let stored = result.stored.keys.sorted().map { store -> (store: String, key: String, facts: OperationFacts) in
            var facts = OperationFacts(objectName: result.id, size: result.size, storedSize: result.stored[store], sha256: result.sha256)
            facts.schema = result.schema
            return (store, result.key, facts)
        }
        return (stored, nil)
    }

    private func dump(schema: String, warn: (String) -> Void) throws -> DumpResult {
        guard options.format.isDump else {
            throw CommandError(
                problem: "--format \(options.format.rawValue) is not a dump format", fix: "use custom or plain", errorCode: "input.invalid")
        }
        let target = try DatabaseTarget(context: context, database: options.database, command: "dump")
        _ = try context.requireSyncStores(for: "dump")
        let db = try target.connect()
        guard try !db.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]).isEmpty else {
            throw CommandError(
                problem: "schema \(schema) does not exist in database \(target.name)",
                fix: "check the name (psql: \\dn), or give the database it is in with --database", errorCode: "input.invalid")
        }
        let pgDump = try PostgresPrograms(explicitDirectory: options.postgresBin, major: try DatabaseTarget.major(db)).path(of: "pg_dump")
        let compression = options.compression ?? (options.format == .custom ? .none : context.config.compression.algorithm)
        let level = compression == context.config.compression.algorithm ? context.config.compression.level : compression.defaultLevel
        let clock = Stopwatch()
        let time = WallClock.nowMicros()
        let writer = try ExportWriter(
            context: context, directory: ArchiveLayout(cluster: context.config.cluster.name).dumpDirectory(schema),
            time: time, format: options.format, compression: compression, level: level)
        let arguments = ["--schema=\(schema)", "--format=\(options.format.rawValue)", "--no-password"]
        try PipedProgram.read(pgDump, arguments, environment: target.environment(application: "walvault dump"), what: "pg_dump of schema \(schema)") {
            bytes in
            try writer.write(bytes)
        } onFailure: {
            writer.abort()
        }
        guard writer.byteCount > 0 else {
            writer.abort()
            throw CommandError(problem: "pg_dump of schema \(schema) wrote nothing", fix: "run pg_dump --schema=\(schema) by hand to see why")
        }
        let stored = try writer.commit()
        stored.notQueued.forEach(warn)
        return DumpResult(
            schema: schema, database: target.name, id: "\(schema)/\(stored.name.stamp)", key: stored.key, format: options.format.rawValue,
            compression: compression.rawValue, size: stored.size, sha256: stored.name.sha256,
            stored: Dictionary(uniqueKeysWithValues: stored.storedSizes.map { ($0.store, $0.size) }),
            queuedFor: stored.queuedFor, seconds: clock.seconds)
    }
}
