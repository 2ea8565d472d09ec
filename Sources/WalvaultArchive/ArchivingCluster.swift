import WalvaultCatalog
import WalvaultSystem

/// Which data directory a file handed to archive_command comes from.
package enum ArchivingCluster {
    /// PostgreSQL runs archive_command with the data directory as its working directory and
    /// `%p` relative to it (`pg_wal/…`), so the working directory is the cluster that is archiving.
    /// Run by hand with an absolute path, the directory above `pg_wal` is; `[cluster] pgdata`
    /// only when neither holds a data directory. nil when none does: then nothing can be checked.
    package static func dataDirectory(walPath: String, configured: String?) -> String? {
        var candidates = ["."]
        let walDirectory = Paths.dirname(walPath)
        if Paths.basename(walDirectory) == "pg_wal" { candidates.append(Paths.dirname(walDirectory)) }
        if let configured { candidates.append(configured) }
        return candidates.first { FileSystem.exists(Paths.join($0, BackupExclusions.controlFile)) }
            .map { FileSystem.realPath($0) ?? $0 }
    }
}
