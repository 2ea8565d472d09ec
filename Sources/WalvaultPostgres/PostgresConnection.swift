#if canImport(Glibc)
import Glibc
#endif
import CLibPQ

/// One libpq connection. Every statement is sent with PQexecParams and bound parameters,
/// never with values pasted into SQL text.
public final class PostgresConnection {
    private let pq: LibPQ
    private let connection: OpaquePointer
    /// How the connection is named in messages: "the database" or "the control-plane database".
    public let role: String

    /// - Parameters:
    ///   - conninfo: a libpq connection string.
    ///   - connectTimeout: seconds, unless the conninfo sets `connect_timeout` itself, so that a dead
    ///     server fails a command quickly instead of hanging cron or the archiver.
    public init(conninfo: String, database: DatabaseRole = .cluster, connectTimeout: Int = 5) throws {
        let role = database.name
        self.role = role
        pq = try LibPQ.shared.get()
        let setsTimeout = conninfo.split(separator: " ").contains { $0.hasPrefix("connect_timeout=") }
        let withTimeout = setsTimeout ? conninfo : conninfo + " connect_timeout=\(connectTimeout)"
        guard let connection = pq.connectdb(withTimeout) else {
            throw PostgresError(problem: "cannot connect to \(role): out of memory", fix: "retry")
        }
        self.connection = connection
        guard pq.status(connection) == CONNECTION_OK else {
            // deinit runs even though init throws (every property is set), and finishes the connection.
            let message = Self.clean(pq.errorMessage(connection))
            throw PostgresError(problem: "cannot connect to \(role): \(message)",
                                fix: "check \(database.setting) in the config and that the server is running", isConnectionFailure: true)
        }
        // libpq prints server NOTICEs to stderr; walvault's stderr is one line per message.
        try query("SET client_min_messages TO warning")
    }

    deinit { pq.finish(connection) }

    /// Runs one statement and returns its rows as text (nil for SQL NULL).
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        var cStrings = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { cStrings.forEach { free($0) } }
        let result = cStrings.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(buffer.count, 1)) { values in
                pq.execParams(connection, sql, Int32(parameters.count), nil, parameters.isEmpty ? nil : values, nil, nil, 0)
            }
        }
        defer { pq.clear(result) }
        let status = pq.resultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let message = result == nil ? Self.clean(pq.errorMessage(connection)) : Self.clean(pq.resultErrorMessage(result))
            throw PostgresError(problem: "\(role) refused \(Self.summary(sql)): \(message)", fix: "see the server log for details")
        }
        var rows: [[String?]] = []
        let fields = pq.nfields(result)
        for row in 0..<pq.ntuples(result) {
            rows.append((0..<fields).map { field in
                pq.getisnull(result, row, field) != 0 ? nil : pq.getvalue(result, row, field).map { String(cString: $0) }
            })
        }
        return rows
    }

    /// Runs a script of several statements (a migration file shipped inside walvault). Only for
    /// trusted SQL with no values in it: everything else goes through `query` and bound parameters.
    public func execute(script: String, name: String) throws {
        let result = pq.exec(connection, script)
        defer { pq.clear(result) }
        let status = pq.resultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let message = result == nil ? Self.clean(pq.errorMessage(connection)) : Self.clean(pq.resultErrorMessage(result))
            throw PostgresError(problem: "\(role) refused \(name): \(message)", fix: "see the server log for details")
        }
    }

    /// The single value of a one-row, one-column query.
    public func value(_ sql: String, _ parameters: [String?] = []) throws -> String {
        guard let value = try query(sql, parameters).first?.first ?? nil else {
            throw PostgresError(problem: "\(role) returned no value for \(Self.summary(sql))", fix: "check the server version (PostgreSQL 15 or later)")
        }
        return value
    }

    public static var libraryVersion: Int32? { try? LibPQ.shared.get().libVersion() }

    private static func clean(_ message: UnsafeMutablePointer<CChar>?) -> String {
        guard let message else { return "unknown error" }
        return String(cString: message).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters() }.joined(separator: " ")
    }

    private static func summary(_ sql: String) -> String {
        let words = sql.split(whereSeparator: { $0 == " " || $0 == "\n" }).prefix(3).joined(separator: " ")
        return "\"\(words)…\""
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
