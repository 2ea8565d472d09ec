/// `[cluster]`: which PostgreSQL cluster this config protects.
public struct ClusterSettings: Sendable, Equatable {
    /// The cluster's directory name inside every store; several clusters may share one store.
    public var name: String
    public var pgdata: String?
    public var conninfo: String?
    /// The local working directory for the shipping queue; needed when a store is async.
    public var spool: String?

    public init(name: String, pgdata: String? = nil, conninfo: String? = nil, spool: String? = nil) {
        self.name = name
        self.pgdata = pgdata
        self.conninfo = conninfo
        self.spool = spool
    }

    /// A name is a single path component and an object key prefix, so it is kept to a
    /// portable alphabet that is safe on every store (file systems, S3 keys, Telegram captions).
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 64, first != UInt8(ascii: ".") else { return false }
        return name.utf8.allSatisfy { c in
            (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 45 || c == 95 || c == 46
        }
    }
}
