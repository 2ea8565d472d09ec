import CShims
import WalvaultConfig
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One lock per cluster on this machine, so that expire never deletes what a backup or a restore
/// running at the same moment is using: backup and restore hold it shared (several may run),
/// expire exclusively, and gives up at once when it cannot have it. It lives in `[cluster] spool`
/// when there is one (which only its owner may use), else in a directory private to the user
/// running walvault: a lock others can create, hold or replace by a symlink would let any local
/// user stop backups or make root write where they choose.
public final class ClusterLock {
    package let file: FileDescriptor

    public enum Mode { case shared, exclusive }

    public static func path(for config: WalvaultConfig) -> String {
        Paths.join(config.cluster.spool ?? privateDirectory, "\(config.cluster.name).lock")
    }

    package static var privateDirectory: String { "/tmp/walvault-locks-\(geteuid())" }

    /// - Parameter waitSeconds: how long a shared lock waits for an expire that holds it.
    /// - Returns: nil when `exclusive` was asked and someone holds the lock.
    public static func acquire(_ mode: Mode, config: WalvaultConfig, waitSeconds: Double = 600) throws -> ClusterLock? {
        let path = path(for: config)
        let directory = Paths.dirname(path)
        do {
            if !FileSystem.isDirectory(directory) {
                try FileSystem.makeDirectories(directory, mode: 0o700)
            }
            // A configured spool may be a link the owner made; the directory in /tmp may not.
            if let problem = FileSystem.untrustedDirectoryProblem(directory) ?? (config.cluster.spool == nil ? symlinkProblem(directory) : nil) {
                throw CommandError(
                    problem: "cannot lock cluster \"\(config.cluster.name)\": the lock directory \(problem)",
                    fix: config.cluster.spool == nil
                        ? "remove \(directory) (someone else made it) and run again"
                        : "run walvault as the spool's owner, and keep the spool private: chmod 700 \(directory)")
            }
            let file = try openLockFile(path)
            switch mode {
            case .shared:
                let waiting = Stopwatch()
                while wv_flock(file.raw, LOCK_SH | LOCK_NB) != 0 {
                    if errno == EINTR { continue }
                    guard errno == EWOULDBLOCK else { throw SystemError("lock", path: path) }
                    guard waiting.seconds < waitSeconds else {
                        throw CommandError(
                            problem: "cluster lock \(path) is still held after \(Int(waitSeconds)) s by \(holders(of: file))",
                            fix: "wait until that process ends (an expire deleting many objects), or stop it; then run again")
                    }
                    usleep(100_000)
                }
            case .exclusive:
                guard try file.tryLockExclusive() else { return nil }
            }
            return ClusterLock(file: file)
        } catch let error as SystemError {
            throw CommandError(
                cause: error, problem: "cannot lock \(path): \(error.reason)",
                fix: error.hint ?? "check that the user running walvault may write there")
        }
    }

    /// The lock directory outside a spool must not be a link someone else aimed.
    package static func symlinkProblem(_ directory: String) -> String? {
        (try? FileSystem.status(directory))??.kind == .symlink ? "\(directory) is a symbolic link" : nil
    }

    /// Created private by this process, or opened as it is; never through a symlink, and never
    /// given other permissions.
    package static func openLockFile(_ path: String) throws -> FileDescriptor {
        if let created = try? FileDescriptor.open(path, flags: O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600) { return created }
        return try FileDescriptor.open(path, flags: O_RDWR | O_NOFOLLOW)
    }

    /// "pid 1234 (walvault)" for each process holding a lock on `file`, from /proc/locks.
    public static func holders(of file: FileDescriptor) -> String {
        var st = stat()
        guard fstat(file.raw, &st) == 0, let locks = try? FileSystem.readSmallFile("/proc/locks", limit: 1 << 20) else { return "another process" }
        let pids = Set(
            String(decoding: locks, as: UTF8.self).split(separator: "\n").compactMap { line -> Int32? in
                let fields = line.split(separator: " ")
                guard let at = fields.firstIndex(where: { $0.split(separator: ":").count == 3 }), at > 0,
                    let inode = UInt64(fields[at].split(separator: ":")[2]), inode == UInt64(st.st_ino)
                else { return nil }
                return Int32(fields[at - 1])
            }
        ).filter { $0 != getpid() }.sorted()
        guard !pids.isEmpty else { return "another process" }
        return pids.map { pid in
            let name =
                (try? FileSystem.readSmallFile("/proc/\(pid)/comm", limit: 64)).map {
                    String(decoding: $0, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
                } ?? ""
            return name.isEmpty ? "pid \(pid)" : "pid \(pid) (\(name))"
        }.joined(separator: ", ")
    }

    /// Who holds the lock of `config`'s cluster, for a message.
    public static func holders(config: WalvaultConfig) -> String {
        guard let file = try? FileDescriptor.open(path(for: config), flags: O_RDONLY | O_NOFOLLOW) else { return "another process" }
        defer { try? file.close() }
        return holders(of: file)
    }

    package init(file: FileDescriptor) { self.file = file }
}
