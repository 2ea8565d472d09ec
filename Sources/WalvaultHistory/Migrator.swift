import WalvaultMigrations
import WalvaultPipeline
import WalvaultPostgres
import WalvaultSystem

/// Applies Migrations/*.sql in order, each once, in one transaction, under an advisory lock so
/// that two `walvault migrate` at once (or a migrate racing a cron job) apply nothing twice.
public enum Migrator {
    /// An arbitrary constant: "walvault" in ASCII, fits a bigint.
    static let advisoryLock = "8592993788542694516"

    public struct Outcome: Equatable {
        public let applied: [String]
        public let alreadyApplied: [String]

        public init(applied: [String], alreadyApplied: [String]) {
            self.applied = applied
            self.alreadyApplied = alreadyApplied
        }

        /// What `walvault migrate` prints.
        public var summary: String {
            guard applied.isEmpty else { return "applied \(applied.joined(separator: ", "))" }
            let n = alreadyApplied.count
            return "schema up to date (\(n) \(n == 1 ? "migration" : "migrations") applied before)"
        }
    }

    public static func migrate(_ db: PostgresConnection, migrations: [Migrations.File] = Migrations.all) throws -> Outcome {
        try db.query("BEGIN")
        do {
            try db.query("SELECT pg_advisory_xact_lock($1::bigint)", [advisoryLock])
            try db.query("CREATE SCHEMA IF NOT EXISTS control_plane")
            try db.query(
                """
                CREATE TABLE IF NOT EXISTS control_plane.schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, sha256 text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """)
            var done: [Int: (name: String, sha: String)] = [:]
            for row in try db.query("SELECT version::text, name, sha256 FROM control_plane.schema_migrations") {
                done[Int(row[0] ?? "") ?? -1] = (row[1] ?? "", row[2] ?? "")
            }
            var applied: [String] = []
            var already: [String] = []
            for file in migrations.sorted(by: { $0.version < $1.version }) {
                let sha = SHA256Hasher.hex(of: Array(file.sql.utf8))
                if let previous = done[file.version] {
                    guard previous.sha == sha else {
                        throw PostgresError(
                            problem: "migration \(file.name) was changed after it was applied (sha256 \(previous.sha.prefix(12))… in the ledger)",
                            fix: "migrations are forward-only: restore the original file and add a new numbered one")
                    }
                    already.append(file.name)
                    continue
                }
                try db.execute(script: file.sql, name: "migration \(file.name)")
                try db.query(
                    "INSERT INTO control_plane.schema_migrations (version, name, sha256) VALUES ($1::integer, $2, $3)",
                    ["\(file.version)", file.name, sha])
                applied.append(file.name)
            }
            try db.query("COMMIT")
            return Outcome(applied: applied, alreadyApplied: already)
        } catch {
            _ = try? db.query("ROLLBACK")
            throw error
        }
    }
}
