import CLibPQ

#if canImport(Glibc)
    import Glibc
#endif

/// A libpq connection string taken apart by libpq itself (`PQconninfoParse`, so URIs and
/// keyword=value strings mean exactly what they mean to libpq), to point it at another database
/// and to hand it to PostgreSQL's own programs through the environment: a password in a command
/// line is readable by every user of the machine in /proc, an environment only by the owner.
public struct ConnectionString: Sendable {
    /// keyword, value, and the environment variable libpq reads for it.
    public let settings: [(keyword: String, value: String, variable: String?)]

    public init(_ conninfo: String) throws {
        let pq = try LibPQ.shared.get()
        var error: UnsafeMutablePointer<CChar>?
        guard let options = pq.conninfoParse(conninfo, &error) else {
            // libpq's message quotes the text it could not parse, which may hold a password: not shown.
            if let error { pq.freemem(error) }
            throw PostgresError(
                problem: "conninfo is not a valid libpq connection string (not shown: it may hold a password)",
                fix: "write it as keyword=value pairs, e.g. \"host=/var/run/postgresql dbname=postgres\", or as a postgresql:// URI")
        }
        defer { pq.conninfoFree(options) }
        var settings: [(String, String, String?)] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                settings.append((String(cString: keyword), String(cString: value), option.pointee.envvar.map { String(cString: $0) }))
            }
            option += 1
        }
        self.settings = settings
    }

    public func value(_ keyword: String) -> String? { settings.last { $0.keyword == keyword }?.value }

    /// What a message may say about a connection: host, port, dbname and user, nothing else (a
    /// password, a passfile, SSL keys and unknown options stay out).
    public var redacted: String {
        let shown = ["host", "hostaddr", "port", "dbname", "user"].compactMap { keyword in value(keyword).map { "\(keyword)=\($0)" } }
        return shown.isEmpty ? "libpq defaults" : shown.joined(separator: " ")
    }

    /// `redacted` of any conninfo; of one that cannot be parsed, nothing of it.
    public static func redacted(_ conninfo: String) -> String {
        (try? ConnectionString(conninfo))?.redacted ?? "a conninfo that is not shown: it cannot be parsed, and may hold a password"
    }

    /// The same connection to `database` (nil: the one it names), as a keyword=value string.
    public func conninfo(database: String? = nil) -> String {
        var pairs = settings.filter { database == nil || $0.keyword != "dbname" }.map { ($0.keyword, $0.value) }
        if let database { pairs.append(("dbname", database)) }
        return pairs.map { "\($0.0)='\(Self.quote($0.1))'" }.joined(separator: " ")
    }

    /// `NAME=value` entries for a child program: every setting libpq also reads from a PG*
    /// variable, the database replaced by `database` when given. Settings with no variable are
    /// left out (none that pg_dump needs to reach the server).
    public func environment(database: String? = nil) -> [String] {
        var entries = settings.filter { $0.variable != nil && (database == nil || $0.keyword != "dbname") }.map { "\($0.variable!)=\($0.value)" }
        if let database { entries.append("PGDATABASE=\(database)") }
        return entries
    }

    static func quote(_ value: String) -> String {
        var out = ""
        for c in value {
            if c == "'" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
