/// What a base backup leaves out of the data directory, following PostgreSQL's documentation
/// ("Backing Up the Data Directory"): contents PostgreSQL recreates or that only describe the
/// running server. Directories whose contents are skipped are still recorded, empty, so the
/// restored cluster has them with their modes.
public enum BackupExclusions {
    /// Top-level directories kept empty.
    public static let emptiedDirectories: Set<String> = [
        "pg_wal", "pg_replslot", "pg_dynshmem", "pg_notify", "pg_serial", "pg_snapshots", "pg_stat_tmp", "pg_subtrans"
    ]

    /// Top-level files never copied. backup_label and tablespace_map come from pg_backup_stop instead.
    public static let skippedTopLevelFiles: Set<String> = [
        "postmaster.pid", "postmaster.opts", "backup_label", "backup_label.old", "tablespace_map", "tablespace_map.old",
        "recovery.signal", "standby.signal", "backup_manifest", "postgresql.auto.conf.tmp",
        ".walvault-restore-in-progress"  // RestoreDestination.markerName: left only by a crash after pg_control was placed
    ]

    /// pg_control is copied after every other file (and restored last), so a restore that stops
    /// half-way leaves a data directory PostgreSQL refuses to start instead of a torn cluster.
    public static let controlFile = "global/pg_control"

    public enum Decision: Equatable, Sendable { case include, includeEmpty, skip }

    /// - Parameter path: relative to the data directory, "/"-separated.
    public static func decide(_ path: String, isDirectory: Bool) -> Decision {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        if name.hasPrefix("pgsql_tmp") || name == "pg_internal.init" { return .skip }
        // utf8.contains, not String.contains: Foundation's overload (visible through TOMLKit) would
        // link all of Foundation and ICU into the executable and double its start-up time.
        let topLevel = !path.utf8.contains(UInt8(ascii: "/"))
        if topLevel && isDirectory && emptiedDirectories.contains(name) { return .includeEmpty }
        if topLevel && !isDirectory && skippedTopLevelFiles.contains(name) { return .skip }
        return .include
    }
}
