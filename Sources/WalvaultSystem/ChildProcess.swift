#if canImport(Glibc)
import Glibc
#endif

/// Starts other programs: PostgreSQL's pg_ctl for a drill (waited for), and the background
/// `walvault ship` (detached). Children get no blocked signals: a mask inherited from a thread
/// would keep a server from ever seeing SIGTERM or SIGALRM.
public enum ChildProcess {
    /// Starts `executable` with /dev/null for input and stdout and stderr appended to `output`.
    /// - Parameters:
    ///   - environment: NULL-terminated `NAME=value` entries; nil for this process's own.
    ///   - newSession: its own session (setsid), so PostgreSQL neither waits for it nor signals it.
    public static func spawn(_ executable: String, _ arguments: [String], output: String,
                             environment: [UnsafeMutablePointer<CChar>?]? = nil, newSession: Bool = false) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        // POSIX_SPAWN_SETSID (0x80, glibc 2.26) is a macro Swift does not see.
        posix_spawnattr_setflags(&attributes, Int16((newSession ? 0x80 : 0) | POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let status: Int32
        if let environment {
            status = environment.withUnsafeBufferPointer { posix_spawn(&child, executable, &actions, &attributes, argv, $0.baseAddress) }
        } else {
            status = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        }
        guard status == 0 else { throw SystemError("run", path: executable, code: status) }
        return child
    }

    /// `spawn`, then waits. - Returns: the exit status (128 + signal when killed).
    public static func run(_ executable: String, _ arguments: [String], output: String) throws -> Int32 {
        let child = try spawn(executable, arguments, output: output)
        var result: Int32 = 0
        while waitpid(child, &result, 0) < 0 {
            guard errno == EINTR else { throw SystemError("wait for", path: executable) }
        }
        // WIFEXITED / WEXITSTATUS are macros Swift does not see.
        return result & 0x7f == 0 ? (result >> 8) & 0xff : 128 + (result & 0x7f)
    }
}
