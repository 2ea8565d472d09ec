import CLibPQ

#if canImport(Glibc)
    import Glibc
#endif

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
        // Parsed first: libpq's own parse error quotes the text, which may hold a password.
        let target: String
        do { target = try ConnectionString(conninfo).redacted } catch let error as PostgresError {
            throw PostgresError(
                problem: "\(database.setting) is not a valid libpq connection string (not shown: it may hold a password)", fix: error.fix)
        }
        // The whole string as an expanded dbname, so a postgresql:// URI stays one; a
        // connect_timeout it sets itself comes after ours and wins.
        let keywords: [UnsafeMutablePointer<CChar>?] = [strdup("connect_timeout"), strdup("dbname"), nil]
        let values: [UnsafeMutablePointer<CChar>?] = [strdup(String(connectTimeout)), strdup(conninfo), nil]
        defer { (keywords + values).forEach { free($0) } }
        let connectdbParams = pq.connectdbParams
        let made = keywords.map { UnsafePointer($0) }.withUnsafeBufferPointer { k in
            values.map { UnsafePointer($0) }.withUnsafeBufferPointer { v in connectdbParams(k.baseAddress, v.baseAddress, 1) }
        }
        guard let connection = made else {
            throw PostgresError(problem: "cannot connect to \(role): out of memory", fix: "retry")
        }
        self.connection = connection
        guard pq.status(connection) == CONNECTION_OK else {
            // deinit runs even though init throws (every property is set), and finishes the connection.
            let message = Self.clean(pq.errorMessage(connection))
            throw PostgresError(
                problem: "cannot connect to \(role) (\(target)): \(message)",
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
            rows.append(
                (0..<fields).map { field in
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

    /// Runs a query and hands the first column of each row to `body` as bytes (nil for NULL),
    /// without making a String of it: the rows of a cursor's FETCH, thousands at a time.
    /// - Returns: the number of rows.
    @discardableResult
    public func forEachValue(_ sql: String, _ body: (UnsafeRawBufferPointer?) throws -> Void) throws -> Int {
        let result = pq.execParams(connection, sql, 0, nil, nil, nil, nil, 0)
        defer { pq.clear(result) }
        let status = pq.resultStatus(result)
        guard status == PGRES_TUPLES_OK else {
            let message = result == nil ? Self.clean(pq.errorMessage(connection)) : Self.clean(pq.resultErrorMessage(result))
            throw PostgresError(problem: "\(role) refused \(Self.summary(sql)): \(message)", fix: "see the server log for details")
        }
        let rows = pq.ntuples(result)
        for row in 0..<rows {
            if pq.getisnull(result, row, 0) != 0 {
                try body(nil)
            } else {
                try body(UnsafeRawBufferPointer(start: pq.getvalue(result, row, 0), count: Int(pq.getlength(result, row, 0))))
            }
        }
        return Int(rows)
    }

    /// Runs `COPY … TO STDOUT` and hands each piece of its output to `body` as the server sends
    /// it. After `body` throws, the connection is mid-COPY: throw it away.
    /// - Returns: the rows copied, from the command tag.
    public func copyOut(_ sql: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let started = pq.exec(connection, sql)
        let status = pq.resultStatus(started)
        let startMessage = started == nil ? Self.clean(pq.errorMessage(connection)) : Self.clean(pq.resultErrorMessage(started))
        pq.clear(started)
        guard status == PGRES_COPY_OUT else {
            throw PostgresError(problem: "\(role) refused \(Self.summary(sql)): \(startMessage)", fix: "see the server log for details")
        }
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let n = pq.getCopyData(connection, &buffer, 0)
            if n > 0, let buffer {
                defer { pq.freemem(buffer) }
                try body(UnsafeRawBufferPointer(start: buffer, count: Int(n)))
                continue
            }
            if n == -2 {
                throw PostgresError(
                    problem: "\(role) broke off \(Self.summary(sql)): \(Self.clean(pq.errorMessage(connection)))",
                    fix: "see the server log for details")
            }
            break
        }
        var rows = 0
        var failure: String?
        while let result = pq.getResult(connection) {
            if pq.resultStatus(result) == PGRES_COMMAND_OK {
                rows = pq.cmdTuples(result).flatMap { Int(String(cString: $0)) } ?? 0
            } else {
                failure = Self.clean(pq.resultErrorMessage(result))
            }
            pq.clear(result)
        }
        if let failure {
            throw PostgresError(problem: "\(role) failed \(Self.summary(sql)): \(failure)", fix: "see the server log for details")
        }
        return rows
    }

    /// The single value of a one-row, one-column query.
    public func value(_ sql: String, _ parameters: [String?] = []) throws -> String {
        guard let value = try query(sql, parameters).first?.first ?? nil else {
            throw PostgresError(
                problem: "\(role) returned no value for \(Self.summary(sql))", fix: "check the server version (PostgreSQL 15 or later)")
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
