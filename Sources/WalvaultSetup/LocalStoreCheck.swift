import WalvaultKit
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A local store before init names it in the config: it must already exist (init never guesses
/// which disk a store belongs on), the archiver must be able to write there, and it must not be
/// inside the data directory, where a restore would erase it and every backup would copy it.
public enum LocalStoreCheck {
    /// - Returns: a warning when the store shares the data directory's file system.
    public static func check(path: String, cluster: DiscoveredCluster) throws -> String? {
        guard let real = FileSystem.realPath(path), FileSystem.isDirectory(real) else {
            throw CommandError(
                problem: "local store \(path) does not exist",
                fix: "create it on another disk than the database, owned by \(cluster.owner.name): install -d -o \(cluster.owner.name) -m 700 \(path)"
            )
        }
        if real == cluster.pgdata || real.hasPrefix(cluster.pgdata + "/") {
            throw CommandError(
                problem: "local store \(path) is inside the data directory \(cluster.pgdata)",
                fix: "put the store outside it (on another disk): a restore empties the data directory, and every backup would copy the store")
        }
        let writable = try ProcessIdentity.acting(as: cluster.owner) { access(real, W_OK | X_OK) == 0 }
        guard writable else {
            throw CommandError(
                problem: "local store \(path) is not writable by \(cluster.owner.name), the user PostgreSQL archives as",
                fix: "chown \(cluster.owner.name) \(path) (or give it a group \(cluster.owner.name) is in)")
        }
        guard let store = try FileSystem.status(real), let data = try FileSystem.status(cluster.pgdata) else { return nil }
        if store.device == data.device {
            return
                "local store \(path) is on the same file system as \(cluster.pgdata): a dead disk takes the database and its backups together; add an off-site store (--store s3://… or telegram:…) or use another disk"
        }
        return nil
    }
}
