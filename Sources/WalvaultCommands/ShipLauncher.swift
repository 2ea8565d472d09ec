#if canImport(Glibc)
import Glibc
#endif
import WalvaultConfig
import WalvaultSystem

/// Starts `walvault ship` in the background when archive-push or backup has queued something and
/// no shipper holds the spool's lock. The shipper gets its own session (PostgreSQL neither waits
/// for it nor signals it), /dev/null for input, and `<spool>/ship.log` for output. A shipper that
/// finds its queues empty exits; the next push starts another.
public enum ShipLauncher {
    /// - Returns: a warning when a shipper was needed but could not be started (the queue keeps
    ///   everything; `walvault ship` or the service started by hand drains it).
    @discardableResult
    public static func startIfIdle(context: WalvaultContext) -> String? {
        guard let spool = context.config.cluster.spool else { return nil }
        do {
            let lock = try FileDescriptor.open(Ship.lockPath(spool: spool), flags: O_RDWR | O_CREAT, mode: 0o600)
            guard try lock.tryLockExclusive() else { return nil }   // one is running: it will see the new entries
            try lock.close()
        } catch {
            return "cannot check whether walvault ship runs (\(error)); the queue keeps everything: run walvault ship"
        }
        let executable = (try? FileSystem.readLink("/proc/self/exe")) ?? "/usr/local/bin/walvault"
        let arguments = [executable, "--config", context.config.path, "ship"]
        let log = Paths.join(spool, "ship.log")

        // The environment as this process got it: S3 credentials are read by name, and a
        // passphrase taken from the environment (and wiped from this process) is put back.
        var environment: [UnsafeMutablePointer<CChar>?] = []
        var passphraseEntry: UnsafeMutablePointer<CChar>?
        var passphraseVariable: String?
        if case .environment(let name)? = context.config.encryption?.passphrase, let keyRing = context.keyRing {
            passphraseVariable = name
            keyRing.withPassphrase { secret in
                let prefix = Array((name + "=").utf8)
                let entry = UnsafeMutablePointer<CChar>.allocate(capacity: prefix.count + secret.count + 1)
                prefix.withUnsafeBytes { UnsafeMutableRawPointer(entry).copyMemory(from: $0.baseAddress!, byteCount: prefix.count) }
                if secret.count > 0 { (UnsafeMutableRawPointer(entry) + prefix.count).copyMemory(from: secret.baseAddress!, byteCount: secret.count) }
                entry[prefix.count + secret.count] = 0
                passphraseEntry = entry
            }
        }
        var index = 0
        while let entry = environ[index] {
            index += 1
            if let name = passphraseVariable, String(cString: entry).hasPrefix(name + "=") { continue }
            environment.append(entry)
        }
        if let passphraseEntry { environment.append(passphraseEntry) }
        environment.append(nil)
        defer {
            if let passphraseEntry {
                memset(passphraseEntry, 0, strlen(passphraseEntry))
                passphraseEntry.deallocate()
            }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        // POSIX_SPAWN_SETSID (0x80, glibc 2.26) is a macro Swift does not see.
        posix_spawnattr_setflags(&attributes, Int16(0x80 | POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let status = environment.withUnsafeBufferPointer { posix_spawn(&child, executable, &actions, &attributes, argv, $0.baseAddress) }
        guard status == 0 else {
            return "cannot start walvault ship (\(String(cString: strerror(status)))); the queue keeps everything: run walvault ship"
        }
        return nil
    }
}
