import WalvaultConfig
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The volumes walvault depends on: pg_wal (PostgreSQL stops when it fills, and it fills when
/// archiving fails), each local store, and the spool. `walvault check` judges them against
/// `min_free_percent`; the dashboard draws them as gauges.
public struct DiskSpace: Codable, Equatable, Sendable {
    /// "pg_wal", "store \"local\"", "the spool".
    public let what: String
    public let path: String
    public var freeBytes: Int?
    public var totalBytes: Int?
    /// Why the volume could not be measured.
    public var unreadable: String?

    public static func places(_ config: WalvaultConfig) -> [(what: String, path: String)] {
        var places: [(String, String)] = []
        if let pgdata = config.cluster.pgdata { places.append(("pg_wal", Paths.join(pgdata, "pg_wal"))) }
        for store in config.stores { if case .local(let path) = store.kind { places.append(("store \"\(store.name)\"", path)) } }
        if let spool = config.cluster.spool { places.append(("the spool", spool)) }
        return places
    }

    public static func measure(_ config: WalvaultConfig) -> [DiskSpace] {
        places(config).map { what, path in
            var st = statvfs()
            guard statvfs(path, &st) == 0 else {
                return DiskSpace(what: what, path: path, unreadable: "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            return DiskSpace(what: what, path: path, freeBytes: Int(st.f_bavail) * Int(st.f_frsize), totalBytes: Int(st.f_blocks) * Int(st.f_frsize))
        }
    }
}
