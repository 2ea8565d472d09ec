import Testing
import WalvaultConfig
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultBackup
@testable import WalvaultKit

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 24, items 2 to 4: the spool and the lock file turned against the user running walvault,
/// and children that inherit an unusable working directory. Each attack as the issue describes it.
@Suite struct SpoolHardeningTests {
    /// A directory with a file in it that must survive: what an attacker aims a symlink at.
    func victim(_ dir: TempDir) -> (directory: String, file: String) {
        let file = dir.write("victim/precious", Array("keep me".utf8))
        return (Paths.dirname(file), file)
    }

    @Test func removeAllDoesNotFollowAPlantedPrefetchSymlink() throws {
        let dir = TempDir()
        let spool = dir.sub("spool")
        let (target, file) = victim(dir)
        _ = dir.sub("spool/prefetch")
        try FileSystem.makeSymlink(target, at: Paths.join(spool, "prefetch/main-7000"))
        // And one level down, inside a real look-ahead directory.
        _ = dir.write("spool/prefetch/main-8000/000000010000000000000001-" + String(repeating: "a", count: 64), [1])
        try FileSystem.makeSymlink(target, at: Paths.join(spool, "prefetch/main-8000/inner"))
        PrefetchSpool.removeAll(spool: spool, cluster: "main")
        #expect(read(file) == Array("keep me".utf8))
        #expect(try FileSystem.listDirectory(Paths.join(spool, "prefetch")).isEmpty)
    }

    @Test func removeAllDoesNotFollowAPrefetchDirectoryThatIsASymlink() throws {
        let dir = TempDir()
        let spool = dir.sub("spool")
        let (target, file) = victim(dir)
        _ = dir.sub("victim/main-1")
        try FileSystem.makeSymlink(target, at: Paths.join(spool, "prefetch"))
        PrefetchSpool.removeAll(spool: spool, cluster: "main")
        #expect(read(file) == Array("keep me".utf8))
        #expect(FileSystem.isDirectory(Paths.join(target, "main-1")))
    }

    @Test func removeContentsRefusesATopLevelLinkWhenAskedAndNeverRecursesThroughOne() throws {
        let dir = TempDir()
        let (target, file) = victim(dir)
        let link = Paths.join(dir.path, "link")
        try FileSystem.makeSymlink(target, at: link)
        #expect(throws: SystemError.self) { try FileSystem.removeContents(of: link, followingLink: false) }
        #expect(read(file) == Array("keep me".utf8))
        _ = dir.write("tree/a/b/file", [1])
        try FileSystem.makeSymlink(target, at: Paths.join(dir.path, "tree/a/link"))
        try FileSystem.removeContents(of: Paths.join(dir.path, "tree"))
        #expect(try FileSystem.listDirectory(Paths.join(dir.path, "tree")).isEmpty)
        #expect(read(file) == Array("keep me".utf8))
    }

    @Test func backgroundLogsAreNeverOpenedThroughASymlink() throws {
        let dir = TempDir()
        let target = dir.write("victim/postgresql.auto.conf", Array("port = 5432\n".utf8))
        let log = Paths.join(dir.sub("spool"), "ship.log")
        try FileSystem.makeSymlink(target, at: log)
        let started = try? ChildProcess.spawn("/bin/echo", ["appended"], output: log)
        if let started { _ = try ChildProcess.wait(started, executable: "/bin/echo") }
        #expect(read(target) == Array("port = 5432\n".utf8))
    }

    @Test func workerLockIsNeverTruncatedThroughASymlink() throws {
        let dir = TempDir()
        let target = dir.write("victim/file", Array("contents".utf8))
        let worker = Paths.join(dir.sub("spool/pushed/main"), ".worker")
        try FileSystem.makeSymlink(target, at: worker)
        #expect(throws: SystemError.self) { _ = try FileDescriptor.tryLocking(worker) }
        #expect(read(target) == Array("contents".utf8))
    }

    func config(spool: String?) -> WalvaultConfig {
        var config = makeContext(stores: []).config
        config.cluster.spool = spool
        return config
    }

    @Test func aSpoolOthersCanWriteIsRefusedInOneLineNamingTheMode() throws {
        let dir = TempDir()
        let spool = dir.sub("spool")
        chmod(spool, 0o777)
        let configPath = dir.write(
            "walvault.toml",
            Array(
                "[cluster]\nname = \"main\"\nspool = \"\(spool)\"\n\n[[stores]]\nname = \"local\"\ntype = \"local\"\npath = \"\(dir.sub("store"))\"\n"
                    .utf8))
        chmod(configPath, 0o600)
        let context = try WalvaultContext.load(configPath: configPath)
        let message = "\(try #require(failure { _ = try context.trustedSpool }))"
        #expect(message.contains("the spool ([cluster] spool in \(configPath)) cannot be trusted: \(spool) can be written by every user (mode 777)"))
        #expect(message.contains("chmod 700 \(spool)"))
        #expect(!message.contains("\n"))
        // A restore, which empties the look-ahead there, refuses before touching anything.
        let restore =
            "\(try #require(failure { _ = try Restore(context: context, options: RestoreOptions(pgdata: dir.sub("restored"), target: .latest, restoreCommand: "walvault")).run() }))"
        #expect(restore.contains("can be written by every user (mode 777)"))
        chmod(spool, 0o700)
        #expect(try WalvaultContext.load(configPath: configPath).trustedSpool == spool)
        // A regular file where the spool should be is named as such, not as missing.
        let file = dir.write("not-a-directory", [1])
        let second = dir.write(
            "second.toml",
            Array(
                "[cluster]\nname = \"main\"\nspool = \"\(file)\"\n\n[[stores]]\nname = \"local\"\ntype = \"local\"\npath = \"\(dir.sub("store"))\"\n"
                    .utf8))
        chmod(second, 0o600)
        let other = "\(try #require(failure { _ = try WalvaultContext.load(configPath: second).trustedSpool }))"
        #expect(other.contains("\(file) is not a directory"))
    }

    @Test(.enabled(if: geteuid() == 0, "chown to another user needs root"))
    func aSpoolAnotherUserOwnsIsRefusedNamingTheOwner() throws {
        let dir = TempDir()
        let spool = dir.sub("spool")
        chown(spool, 65534, 65534)
        let configPath = dir.write(
            "walvault.toml",
            Array(
                "[cluster]\nname = \"main\"\nspool = \"\(spool)\"\n\n[[stores]]\nname = \"local\"\ntype = \"local\"\npath = \"\(dir.sub("store"))\"\n"
                    .utf8))
        chmod(configPath, 0o600)
        let message = "\(try #require(failure { _ = try WalvaultContext.load(configPath: configPath).trustedSpool }))"
        #expect(message.contains("\(spool) belongs to nobody (uid 65534), not to root (uid 0) who runs walvault"))
        #expect(message.contains("sudo -u nobody walvault"))
        // The cluster lock in that spool is refused too, and nothing was created there.
        let lock = "\(try #require(failure { _ = try ClusterLock.acquire(.shared, config: config(spool: spool)) }))"
        #expect(lock.contains("the lock directory \(spool) belongs to nobody"))
        #expect(try FileSystem.listDirectory(spool).isEmpty)
    }

    @Test func theLockIsNeverOpenedThroughASymlinkNorMadeWritableByOthers() throws {
        let dir = TempDir()
        let spool = dir.sub("spool")
        let target = dir.write("victim/root-only", Array("secret".utf8))
        chmod(target, 0o600)
        try FileSystem.makeSymlink(target, at: Paths.join(spool, "main.lock"))
        let message = "\(try #require(failure { _ = try ClusterLock.acquire(.shared, config: config(spool: spool)) }))"
        #expect(message.contains("cannot lock \(spool)/main.lock"))
        #expect(try FileSystem.status(target)?.mode == 0o600)
        // A lock file that is there already keeps its mode.
        try FileSystem.remove(Paths.join(spool, "main.lock"))
        let existing = dir.write("spool/main.lock", [])
        chmod(existing, 0o640)
        let lock = try ClusterLock.acquire(.shared, config: config(spool: spool))
        #expect(lock != nil)
        #expect(try FileSystem.status(existing)?.mode == 0o640)
    }

    @Test func withoutASpoolTheLockLivesInADirectoryPrivateToThisUser() throws {
        var config = config(spool: nil)
        config.cluster.name = "private-lock-test-\(getpid())"
        let lock = try #require(try ClusterLock.acquire(.shared, config: config))
        let path = ClusterLock.path(for: config)
        #expect(path == "/tmp/walvault-locks-\(geteuid())/\(config.cluster.name).lock")
        let directory = try #require(try FileSystem.status(Paths.dirname(path)))
        #expect(directory.owner == geteuid())
        #expect(directory.mode & 0o077 == 0)
        #expect(try FileSystem.status(path)?.mode == 0o600)
        _ = lock
        try FileSystem.remove(path)
    }

    @Test func aSharedLockWaitsABoundedTimeAndNamesTheHoldersPid() throws {
        let dir = TempDir()
        let spool = dir.sub("spool")
        let config = config(spool: spool)
        let path = ClusterLock.path(for: config)
        // --no-fork: flock execs sleep itself, so the pid that holds the lock is the one killed after.
        let holder = try ChildProcess.spawn("/usr/bin/flock", ["--exclusive", "--no-fork", path, "/bin/sleep", "30"], output: "/dev/null")
        defer {
            kill(holder, SIGKILL)
            _ = try? ChildProcess.wait(holder, executable: "flock")
        }
        // Wait until the child holds it.
        var held = false
        for _ in 0..<500 where !held {
            if let probe = try? FileDescriptor.open(path, flags: O_RDONLY), !(try probe.tryLockExclusive()) { held = true } else { usleep(10_000) }
        }
        #expect(held)
        let message = "\(try #require(failure { _ = try ClusterLock.acquire(.shared, config: config, waitSeconds: 0.3) }))"
        #expect(message.contains("cluster lock \(path) is still held after 0 s by pid \(holder) (sleep)"))
        #expect(ClusterLock.holders(config: config).contains("pid \(holder)"))
    }

    @Test func childrenStartInTheRootDirectoryWhateverOursIs() throws {
        let dir = TempDir()
        let output = Paths.join(dir.path, "pwd.out")
        let child = try ChildProcess.spawn("/bin/pwd", [], output: output)
        #expect(try ChildProcess.wait(child, executable: "/bin/pwd") == 0)
        #expect(String(decoding: read(output), as: UTF8.self) == "/\n")
    }
}

private func failure(_ body: () throws -> Void) -> Error? {
    do { try body() } catch { return error }
    Issue.record("expected an error")
    return nil
}
