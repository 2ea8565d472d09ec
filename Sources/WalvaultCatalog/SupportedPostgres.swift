/// The PostgreSQL major versions walvault protects. Base backups use PostgreSQL 15's
/// `pg_backup_start`, and every guarantee is proven against a real PostgreSQL 15 (its own
/// recovery tests included); a version not proven here is refused rather than guessed at.
public enum SupportedPostgres {
    public static let majorVersions: ClosedRange<Int> = 15...15

    public static var description: String {
        majorVersions.count == 1 ? "PostgreSQL \(majorVersions.lowerBound)" : "PostgreSQL \(majorVersions.lowerBound) to \(majorVersions.upperBound)"
    }
}
