import WalvaultConfig
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Starts `walvault ship` in the background when archive-push or backup has queued something and
/// no shipper holds the spool's lock. The shipper gets its own session (PostgreSQL neither waits
/// for it nor signals it), /dev/null for input, and `<spool>/ship.log` for output. A shipper that
/// finds its queues empty exits; the next push starts another.
public enum ShipLauncher {
    /// The lock `walvault ship` holds while it drains the queues: taken by the shipper, tested here.
    public static func lockPath(spool: String) -> String { Paths.join(spool, "ship.lock") }

    /// - Returns: a warning when a shipper was needed but could not be started (the queue keeps
    ///   everything; `walvault ship` or the service started by hand drains it).
    @discardableResult
    public static func startIfIdle(context: WalvaultContext) -> String? {
        guard let spool = try? context.trustedSpool else { return nil }
        do {
            // One that is running will see the new entries.
            guard try !BackgroundLauncher.isRunning(lockPath: lockPath(spool: spool)) else { return nil }
        } catch {
            return "cannot check whether walvault ship runs (\(error)); the queue keeps everything: run walvault ship"
        }
        return context.launcher.start(context: context, arguments: ["ship"], log: Paths.join(spool, "ship.log"), what: "walvault ship")
            .map { $0 + "; the queue keeps everything: run walvault ship" }
    }
}

/// Starts the walvault CLI in the background with the same config: its own session (PostgreSQL
/// neither waits for it nor signals it), /dev/null for input, `log` for output, and the
/// environment as this process got it (S3 credentials are read by name, and a passphrase taken
/// from the environment, and wiped from this process, is put back). It is told which executable
/// that is: from a server, "this process" would start another server.
public struct BackgroundLauncher: Sendable, Equatable {
    /// nil: the running executable, looked up only when a worker is started (every archive-push
    /// builds a context; few start anything).
    private let named: String?

    public init(executable: String) { named = executable }

    private init() { named = nil }

    /// The running executable, for the CLI.
    public static let thisExecutable = BackgroundLauncher()

    public var executable: String { named ?? (try? FileSystem.readLink("/proc/self/exe")) ?? "/usr/local/bin/walvault" }

    /// `name` in this executable's directory: walvault and walvault-server are installed side by side.
    public static func besideThisExecutable(_ name: String) -> String {
        Paths.join(Paths.dirname((try? FileSystem.readLink("/proc/self/exe")) ?? CommandLine.arguments[0]), name)
    }

    /// Whether a worker holds the lock at `path`: taken for a moment and let go when it is free.
    package static func isRunning(lockPath path: String) throws -> Bool {
        guard let lock = try FileDescriptor.tryLocking(path) else { return true }
        try lock.close()
        return false
    }

    /// - Returns: a warning when it could not be started.
    package func start(context: WalvaultContext, arguments: [String], log: String, what: String) -> String? {
        // The worker starts in "/": a config named relative to this directory is made absolute.
        let arguments = ["--config", FileSystem.realPath(context.config.path) ?? context.config.path] + arguments

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

        do {
            _ = try ChildProcess.spawn(self.executable, arguments, output: log, environment: environment, newSession: true)
        } catch {
            return "cannot start \(what) (\((error as? SystemError)?.reason ?? "\(error)"))"
        }
        return nil
    }
}
