import WalvaultCatalog
import WalvaultKit
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// What `walvault init` learns about a cluster from its data directory alone: its version and
/// system identifier from `PG_VERSION` and pg_control, its owner from the directory, and where a
/// running server listens from `postmaster.pid`. Anything that would make protecting it a guess
/// (not a cluster, a version not proven here, a standby, a server that is not running) is refused.
public struct DiscoveredCluster: Sendable {
    public let pgdata: String
    public let majorVersion: Int
    public let systemIdentifier: UInt64
    public let owner: ProcessIdentity.Account
    public let postmaster: PostmasterPID
    /// `postgresql@15-main` for a cluster Debian's postgresql-common manages.
    public let systemdUnit: String?
    /// The name in the stores: Debian's cluster name, else the data directory's name.
    public let suggestedName: String

    /// libpq's default host is the compiled-in socket directory; the server's own may differ.
    public var conninfo: String {
        let host = postmaster.socketDirectory ?? "localhost"
        return "host=\(host) port=\(postmaster.port) user=\(owner.name) dbname=postgres"
    }

    public static func discover(pgdata given: String) throws -> DiscoveredCluster {
        guard let pgdata = FileSystem.realPath(given), FileSystem.isDirectory(pgdata) else {
            throw CommandError(
                problem: "--pgdata \(given) is not a directory",
                fix: "give the cluster's data directory (psql -c 'SHOW data_directory'; on Debian /var/lib/postgresql/15/main)")
        }
        // Peer authentication, the data directory (0700) and the stores must see the cluster's
        // owner: only root can act as another user, and anyone else sees nothing in it.
        if let status = try FileSystem.status(pgdata), !ProcessIdentity.isRoot, geteuid() != status.owner {
            throw CommandError(
                problem: "init runs as \(FileSystem.userName(geteuid())), but \(pgdata) belongs to \(FileSystem.userName(status.owner))",
                fix:
                    "run it as root (sudo walvault init …), or as \(FileSystem.userName(status.owner)) with a --config and stores that user can write"
            )
        }
        let versionFile = Paths.join(pgdata, "PG_VERSION")
        guard FileSystem.exists(versionFile), FileSystem.exists(Paths.join(pgdata, "global/pg_control")) else {
            throw CommandError(
                problem: "\(pgdata) is not a PostgreSQL data directory (it has no PG_VERSION and global/pg_control)",
                fix: "give the cluster's data directory (psql -c 'SHOW data_directory'; on Debian /var/lib/postgresql/15/main)")
        }
        let versionText = String(decoding: try FileSystem.readSmallFile(versionFile, limit: 64), as: UTF8.self)
        guard let major = Int(versionText.split(whereSeparator: \.isWhitespace).first ?? "") else {
            throw CommandError(problem: "\(versionFile) does not hold a version number", fix: "check that \(pgdata) is an intact data directory")
        }
        guard SupportedPostgres.majorVersions.contains(major) else {
            throw CommandError(
                problem: "\(pgdata) is a PostgreSQL \(major) cluster; walvault supports \(SupportedPostgres.description)",
                fix: "protect a \(SupportedPostgres.description) cluster, or upgrade this one with pg_upgradecluster")
        }
        guard let status = try FileSystem.status(pgdata), let owner = ProcessIdentity.account(uid: status.owner) else {
            throw CommandError(problem: "\(pgdata)'s owner has no account on this machine", fix: "run init on the machine the cluster runs on")
        }
        let systemIdentifier = try PGControl.systemIdentifier(pgdata: pgdata)
        let pidFile = Paths.join(pgdata, "postmaster.pid")
        let running = (try? FileSystem.readSmallFile(pidFile, limit: 4096)).flatMap { PostmasterPID.parse(String(decoding: $0, as: UTF8.self)) }
        let unit = debianUnit(pgdata: pgdata, major: major)
        guard let running, FileSystem.isProcessAlive(running.pid) else {
            let start = unit.map { "systemctl start \($0)" } ?? "pg_ctl -D \(pgdata) start"
            throw CommandError(
                problem: "PostgreSQL is not running on \(pgdata)",
                fix: "start it (\(start)) and run init again: init asks the server for its settings")
        }
        if running.status == "standby" || FileSystem.exists(Paths.join(pgdata, "standby.signal")) {
            throw CommandError(
                problem: "\(pgdata) is a running standby",
                fix: "run init on the primary: a standby archives nothing of its own, and its backups come from the primary's WAL")
        }
        if FileSystem.exists(Paths.join(pgdata, "recovery.signal")) {
            throw CommandError(
                problem: "\(pgdata) is still recovering (recovery.signal is there)",
                fix: "wait until the restore promotes it (walvault status), then run init")
        }
        return DiscoveredCluster(
            pgdata: pgdata, majorVersion: major, systemIdentifier: systemIdentifier, owner: owner, postmaster: running, systemdUnit: unit,
            suggestedName: ClusterNameChoice.usable(Paths.basename(pgdata)))
    }

    /// Debian keeps a cluster's data in /var/lib/postgresql/VERSION/NAME and its configuration in
    /// /etc/postgresql/VERSION/NAME; systemd then knows it as postgresql@VERSION-NAME.
    static func debianUnit(pgdata: String, major: Int) -> String? {
        let prefix = "/var/lib/postgresql/\(major)/"
        guard pgdata.hasPrefix(prefix) else { return nil }
        let name = String(pgdata.dropFirst(prefix.count))
        guard !name.isEmpty, !name.utf8.contains(UInt8(ascii: "/")), FileSystem.exists("/etc/postgresql/\(major)/\(name)/postgresql.conf"),
            FileSystem.isDirectory("/run/systemd/system")
        else { return nil }
        return "postgresql@\(major)-\(name)"
    }
}

/// A directory's name made into a cluster name the config accepts.
enum ClusterNameChoice {
    static func usable(_ name: String) -> String {
        let kept = String(
            String.UnicodeScalarView(
                name.unicodeScalars.map { scalar in
                    let c = scalar.value
                    let allowed = (97...122).contains(c) || (65...90).contains(c) || (48...57).contains(c) || c == 45 || c == 95 || c == 46
                    return allowed ? scalar : "-"
                }))
        let trimmed = String(kept.drop { $0 == "." }.prefix(64))
        return trimmed.isEmpty ? "main" : trimmed
    }
}
