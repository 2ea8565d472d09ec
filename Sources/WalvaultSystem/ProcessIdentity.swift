#if canImport(Glibc)
    import Glibc
#endif

/// Who this process acts as. `walvault init` starts as root to write /etc and install schedules,
/// but PostgreSQL's peer authentication, its data directory and the stores must see the cluster's
/// owner: files a root process creates there would later be unwritable by the archiver.
public enum ProcessIdentity {
    public struct Account: Sendable, Equatable {
        public let name: String
        public let uid: UInt32
        public let gid: UInt32
        public let home: String
    }

    public static var isRoot: Bool { geteuid() == 0 }

    public static func account(uid: UInt32) -> Account? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return Account(name: String(cString: entry.pw_name), uid: entry.pw_uid, gid: entry.pw_gid, home: String(cString: entry.pw_dir))
    }

    /// Runs `body` with the effective user and group of `account`, and returns to root after,
    /// whatever `body` throws. A no-op when this process is not root or already is `account`.
    public static func acting<T>(as account: Account, _ body: () throws -> T) throws -> T {
        guard geteuid() == 0, account.uid != 0 else { return try body() }
        guard setegid(account.gid) == 0 else { throw SystemError("setegid to \(account.name)'s group", path: "/") }
        guard seteuid(account.uid) == 0 else {
            _ = setegid(0)
            throw SystemError("seteuid to \(account.name)", path: "/")
        }
        defer {
            _ = seteuid(0)
            _ = setegid(0)
        }
        return try body()
    }

    /// Drops root for good: the rest of the process is `account`, with its supplementary groups.
    public static func become(_ account: Account) throws {
        guard geteuid() == 0, account.uid != 0 else { return }
        guard initgroups(account.name, account.gid) == 0 else { throw SystemError("initgroups for \(account.name)", path: "/") }
        guard setgid(account.gid) == 0 else { throw SystemError("setgid to \(account.name)'s group", path: "/") }
        guard setuid(account.uid) == 0 else { throw SystemError("setuid to \(account.name)", path: "/") }
        setenv("HOME", account.home, 1)
        setenv("USER", account.name, 1)
        setenv("LOGNAME", account.name, 1)
    }

    /// chown without following a symlink at the last component.
    public static func giveOwnership(of path: String, to account: Account) throws {
        guard geteuid() == 0 else { return }
        guard lchown(path, account.uid, account.gid) == 0 else { throw SystemError("change the owner of", path: path) }
    }
}
