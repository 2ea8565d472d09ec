/// Which jobs must not run at the same time, by their operation names (`OperationKind` raw
/// values). The server refuses the second with 409 rather than let it fail half-way on a lock or,
/// worse, read what the first is deleting:
/// - two restores (both would write a data directory and start a server on the archive);
/// - a restore, a drill or a verify and anything that deletes backups (expire, delete-backup);
/// - two drills (each holds a whole copy of the database on disk: a second only doubles that);
/// - two backups of one cluster (the second would only wait for the first's checkpoint).
public enum JobOverlap {
    static let pairs: [(String, String)] = [
        ("restore", "restore"), ("restore", "expire"), ("restore", "delete-backup"),
        ("drill", "drill"), ("drill", "expire"), ("drill", "delete-backup"),
        ("verify", "expire"), ("verify", "delete-backup"),
        ("expire", "expire"), ("expire", "delete-backup"), ("delete-backup", "delete-backup"),
        ("backup", "backup")
    ]

    public static func conflicts(_ a: String, _ b: String) -> Bool {
        pairs.contains { ($0.0 == a && $0.1 == b) || ($0.0 == b && $0.1 == a) }
    }

    /// The first running job `starting` must not overlap, if any.
    public static func blocker(starting: String, running: [String]) -> String? {
        running.first { conflicts(starting, $0) }
    }
}
