import CShims

#if canImport(Glibc)
    import Glibc
#endif

/// Starts other programs: PostgreSQL's pg_ctl for a drill (waited for), the background
/// `walvault ship` (detached), and pg_dump, pg_restore and psql joined to walvault by pipes. Children
/// get no blocked signals: a mask inherited from a thread would keep a server from ever seeing
/// SIGTERM or SIGALRM.
public enum ChildProcess {
    /// Where one of a child's standard descriptors goes.
    public enum Redirect {
        case devNull
        /// Appended to, created 0600; never through a symlink (logs live in the spool).
        case file(String)
        /// A descriptor of this process (one end of a pipe, a temporary file), dup'ed into place.
        case descriptor(Int32)
    }

    /// Starts `executable` with /dev/null for input and stdout and stderr appended to `output`.
    /// - Parameters:
    ///   - environment: NULL-terminated `NAME=value` entries; nil for this process's own.
    ///   - newSession: its own session (setsid), so PostgreSQL neither waits for it nor signals it.
    public static func spawn(
        _ executable: String, _ arguments: [String], output: String,
        environment: [UnsafeMutablePointer<CChar>?]? = nil, newSession: Bool = false
    ) throws -> pid_t {
        try spawn(executable, arguments, input: .devNull, output: .file(output), error: nil, environment: environment, newSession: newSession)
    }

    /// - Parameter error: nil sends stderr where stdout goes.
    public static func spawn(
        _ executable: String, _ arguments: [String], input: Redirect, output: Redirect, error: Redirect?,
        environment: [UnsafeMutablePointer<CChar>?]? = nil, newSession: Bool = false
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        func place(_ redirect: Redirect, at target: Int32, flags: Int32) {
            switch redirect {
            case .devNull: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", flags, 0)
            case .file(let path): posix_spawn_file_actions_addopen(&actions, target, path, flags | O_CREAT | O_APPEND | O_NOFOLLOW, 0o600)
            case .descriptor(let fd): posix_spawn_file_actions_adddup2(&actions, fd, target)
            }
        }
        place(input, at: 0, flags: O_RDONLY)
        place(output, at: 1, flags: O_WRONLY)
        if let error { place(error, at: 2, flags: O_WRONLY) } else { posix_spawn_file_actions_adddup2(&actions, 1, 2) }
        // After the redirects, which may name paths relative to walvault's own directory: every
        // child starts in "/", so the caller's directory never matters (Debian's pg_dump wrapper,
        // run as postgres from root's 0700 home, prints "could not change directory" otherwise).
        _ = wv_spawn_actions_add_chdir(&actions, "/")
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        // SIGPIPE back to its default: a pg_restore whose reader died must stop, not spin on EPIPE.
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        // And SIGINT and SIGTERM, which a cancellable walvault ignores to handle them itself.
        sigaddset(&pipeSignal, SIGINT)
        sigaddset(&pipeSignal, SIGTERM)
        posix_spawnattr_setsigdefault(&attributes, &pipeSignal)
        // POSIX_SPAWN_SETSID (0x80, glibc 2.26) is a macro Swift does not see.
        posix_spawnattr_setflags(&attributes, Int16((newSession ? 0x80 : 0) | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
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
        try wait(try spawn(executable, arguments, output: output), executable: executable)
    }

    /// Waits for a child. - Returns: its exit status, 128 + signal when a signal ended it.
    public static func wait(_ child: pid_t, executable: String) throws -> Int32 {
        var result: Int32 = 0
        while waitpid(child, &result, 0) < 0 {
            guard errno == EINTR else { throw SystemError("wait for", path: executable) }
        }
        return exitStatus(result)
    }

    /// The child's status if it ends within `seconds` (128 + signal when a signal ended it);
    /// nil when it is still running then, and it is left running.
    public static func status(of child: pid_t, within seconds: Double) -> Int32? {
        let clock = Stopwatch()
        while true {
            var result: Int32 = 0
            let ended = waitpid(child, &result, WNOHANG)
            if ended == child { return exitStatus(result) }
            if ended < 0 && errno != EINTR { return nil }
            if clock.seconds >= seconds { return nil }
            usleep(10_000)
        }
    }

    /// waitpid's status as an exit status, 128 + signal for a signal (WIFEXITED / WEXITSTATUS are
    /// macros Swift does not see).
    private static func exitStatus(_ result: Int32) -> Int32 {
        result & 0x7f == 0 ? (result >> 8) & 0xff : 128 + (result & 0x7f)
    }

    /// A pipe whose two ends close on exec: each child gets its end by `dup2`, which clears the flag
    /// on the copy, so no other child keeps a pipe open by inheriting it.
    public static func pipe() throws -> (read: FileDescriptor, write: FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        // pipe2 is hidden behind _GNU_SOURCE; walvault starts its children from one thread.
        guard Glibc.pipe(&fds) == 0 else { throw SystemError("create a pipe", path: "") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (FileDescriptor(raw: fds[0], path: "pipe"), FileDescriptor(raw: fds[1], path: "pipe"))
    }
}

/// A child's output (its stderr, or a --version), kept in an unnamed temporary file so a chatty child can never block on a
/// full pipe, and read back as the one line walvault reports when the child fails.
public final class CapturedOutput {
    public let file: FileDescriptor

    public init(directory: String = "/tmp") throws {
        file = try FileDescriptor.openUnnamed(in: directory)
    }

    /// The last `limit` bytes as one line: the non-empty lines joined by " / " (each keeps its
    /// "pg_dump: error:" prefix, which says which program spoke).
    public func line(limit: Int = 2048) -> String {
        let end = lseek(file.raw, 0, SEEK_END)
        guard end > 0 else { return "" }
        let start = max(0, Int(end) - limit)
        var bytes = [UInt8](repeating: 0, count: Int(end) - start)
        let n = bytes.withUnsafeMutableBytes { pread(file.raw, $0.baseAddress, $0.count, off_t(start)) }
        guard n > 0 else { return "" }
        let text = String(decoding: bytes[0..<n], as: UTF8.self)
        return text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map { line in
            var s = Substring(line)
            while s.first == " " || s.first == "\t" { s = s.dropFirst() }
            return String(s)
        }.filter { !$0.isEmpty }.joined(separator: " / ")
    }
}
