#if canImport(Glibc)
import Glibc
#endif
import CShims
import WalvaultConfig
import WalvaultSystem

/// One lock per cluster on this machine, so that expire never deletes what a backup or a restore
/// running at the same moment is using: backup and restore hold it shared (several may run),
/// expire exclusively, and gives up at once when it cannot have it. It lives in `[cluster] spool`
/// when there is one, else in /tmp/walvault-locks (sticky, writable by every user, as
/// pgBackRest's /tmp/pgbackrest), and is open to every user, since root and postgres both run walvault.
public final class ClusterLock {
    let file: FileDescriptor

    public enum Mode { case shared, exclusive }

    public static func path(for config: WalvaultConfig) -> String {
        Paths.join(config.cluster.spool ?? "/tmp/walvault-locks", "\(config.cluster.name).lock")
    }

    /// - Returns: nil when `exclusive` was asked and someone holds the lock.
    public static func acquire(_ mode: Mode, config: WalvaultConfig) throws -> ClusterLock? {
        let path = path(for: config)
        let directory = Paths.dirname(path)
        do {
            if config.cluster.spool == nil, !FileSystem.isDirectory(directory) {
                try? FileSystem.makeDirectories(directory, mode: 0o777)
                _ = chmod(directory, 0o1777)
            }
            let file = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT, mode: 0o666)
            _ = fchmod(file.raw, 0o666)
            switch mode {
            case .shared:
                while wv_flock(file.raw, LOCK_SH) != 0 {
                    if errno == EINTR { continue }
                    throw SystemError("lock", path: path)
                }
            case .exclusive:
                guard try file.tryLockExclusive() else { return nil }
            }
            return ClusterLock(file: file)
        } catch let error as SystemError {
            throw CommandError(problem: "cannot lock \(path): \(error.reason)", fix: error.hint ?? "check that the user running walvault may write there")
        }
    }

    init(file: FileDescriptor) { self.file = file }
}
