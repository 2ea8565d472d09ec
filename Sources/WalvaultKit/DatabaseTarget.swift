import WalvaultConfig
import WalvaultPostgres
import WalvaultSystem

/// The database a logical export reads or a dump is restored into: `[cluster] conninfo`, pointed
/// at `--database` when given. walvault's own queries and PostgreSQL's programs reach the same server
/// the same way (the programs through PG* variables, never a password on a command line).
package struct DatabaseTarget {
    package let connection: ConnectionString
    /// `--database`; nil: the one conninfo names.
    package let database: String?
    package let command: String

    package init(context: WalvaultContext, database: String?, command: String) throws {
        guard let conninfo = context.config.cluster.conninfo else {
            throw CommandError(
                problem: "config \(context.config.path): [cluster] conninfo is not set",
                fix: "\(command) needs a connection to the server, e.g. conninfo = \"host=/var/run/postgresql dbname=postgres\"")
        }
        if let database, database.isEmpty || database.utf8.count > 63 || database.utf8.contains(0) {
            throw CommandError(
                problem: "--database \(database.isEmpty ? "is empty" : "is not a database name")", fix: "give the name of a database on the server",
                errorCode: "input.invalid")
        }
        connection = try ConnectionString(conninfo)
        self.database = database
        self.command = command
    }

    /// How messages name it.
    package var name: String { database ?? connection.value("dbname") ?? connection.value("user") ?? "the default database" }

    package func connect() throws -> PostgresConnection {
        try PostgresConnection(conninfo: connection.conninfo(database: database))
    }

    /// The server's major version (15 for 150008).
    package static func major(_ db: PostgresConnection) throws -> Int {
        guard let number = Int(try db.value("SHOW server_version_num")) else {
            throw CommandError(problem: "the server did not report its version", fix: "check that conninfo names a PostgreSQL server")
        }
        return number / 10000
    }

    package func environment(application: String) -> [String] {
        PostgresPrograms.environment(connection, database: database, application: application)
    }
}
