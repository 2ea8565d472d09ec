import Foundation
import Testing

/// Runs a program and captures its exit status and output; integration tests only.
struct ProcessResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Starts a program with stdin from a file (/dev/null unless told) and stdout/stderr to files (never pipes: a
/// server started by the child could hold a pipe open forever). Foundation's Process is not
/// used because its waitUntilExit can stall off the main thread.
func spawn(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    asPostgres: Bool = false, stdin: String = "/dev/null", stdout: String = "/dev/null", stderr: String = "/dev/null"
) throws -> pid_t {
    var argv = [executable] + arguments
    var path = executable
    if asPostgres && getuid() == 0 {
        path = "/usr/sbin/runuser"
        argv = [path, "-u", "postgres", "--"] + argv
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
    let cArgs = argv.map { strdup($0) } + [nil]
    let cEnv = env.map { strdup($0) } + [nil]
    defer { (cArgs + cEnv).forEach { free($0) } }
    // The test runner blocks most signals in its threads and children inherit that mask:
    // pgbench -T ends on SIGALRM and would never stop. Children start with none blocked.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    sigemptyset(&none)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &none)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, &attributes, cArgs, cEnv)
    guard rc == 0 else { throw TestFailure("cannot start \(path): \(String(cString: strerror(rc)))") }
    return pid
}

/// Waits for a child; a signal death is reported as 128 + signal, as shells do.
func waitFor(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}

@discardableResult
func run(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
    asPostgres: Bool = false, stdin: String = "/dev/null"
) throws -> ProcessResult {
    let base = NSTemporaryDirectory() + "walvault-run-" + UUID().uuidString
    defer {
        try? FileManager.default.removeItem(atPath: base + ".out")
        try? FileManager.default.removeItem(atPath: base + ".err")
    }
    let pid = try spawn(
        executable, arguments, environment: environment, asPostgres: asPostgres, stdin: stdin,
        stdout: base + ".out", stderr: base + ".err")
    let status = waitFor(pid)
    return ProcessResult(
        status: status,
        stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
}

/// A program's result with what it cost: wall time, and peak RSS (its own and its waited-for children's).
func runMeasured(_ executable: String, _ arguments: [String]) throws -> (result: ProcessResult, seconds: Double, peakKiB: Int) {
    let base = NSTemporaryDirectory() + "walvault-run-" + UUID().uuidString
    defer {
        try? FileManager.default.removeItem(atPath: base + ".out")
        try? FileManager.default.removeItem(atPath: base + ".err")
    }
    var start = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    let pid = try spawn(executable, arguments, stdout: base + ".out", stderr: base + ".err")
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    var end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &end)
    let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
    let result = ProcessResult(
        status: status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f),
        stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
    return (result, seconds, usage.ru_maxrss)
}

enum Fixture {
    static let postgresBin = ProcessInfo.processInfo.environment["PG_BIN"] ?? "/usr/lib/postgresql/15/bin"

    /// The walvault executable SwiftPM built beside this test bundle (or $WALVAULT_BIN).
    static let builtWalvault: String = {
        if let explicit = ProcessInfo.processInfo.environment["WALVAULT_BIN"] { return explicit }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("walvault").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return "walvault"
    }()

    /// One copy of the binary per test run, in a directory the postgres user can reach. Placed by
    /// hard link, or else copied through a close-on-exec descriptor: a child forked by a parallel
    /// test must never inherit a write descriptor to it, or exec fails with "Text file busy".
    static let sharedWalvault: String = {
        let dir = NSTemporaryDirectory() + "walvault-it-bin-\(getpid())"
        mkdir(dir, 0o755)
        chmod(dir, 0o755)
        // walvault-server goes beside it: `walvault serve` and `walvault owner` run it from there.
        for name in ["walvault", "walvault-server"] {
            let source = (builtWalvault as NSString).deletingLastPathComponent + "/" + name
            let destination = dir + "/" + name
            if link(source, destination) != 0 {
                let input = open(source, O_RDONLY | O_CLOEXEC)
                let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                    if n <= 0 { break }
                    _ = buffer.withUnsafeBytes { write(output, $0.baseAddress, n) }
                }
                close(input)
                close(output)
            }
            chmod(destination, 0o755)
        }
        let destination = dir + "/walvault"
        atexit { _ = system("rm -rf '\(NSTemporaryDirectory())walvault-it-bin-\(getpid())'") }
        return destination
    }()

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// A directory the postgres user can use for one test. Removed at deinit.
final class Workspace {
    let path: String
    let walvault: String

    init() throws {
        path = NSTemporaryDirectory() + "walvault-it-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        walvault = Fixture.sharedWalvault
        chmod(path, 0o755)
    }

    deinit {
        if ProcessInfo.processInfo.environment["KEEP"] != "1" { try? FileManager.default.removeItem(atPath: path) }
    }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ text: String) throws -> String {
        let p = file(name)
        try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    func writeBytes(_ name: String, _ bytes: [UInt8]) throws -> String {
        let p = file(name)
        try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    func mkdir(_ name: String) throws -> String {
        try FileManager.default.createDirectory(atPath: file(name), withIntermediateDirectories: true)
        return file(name)
    }

    /// Hands everything to the postgres user when the tests run as root.
    func giveToPostgres() throws {
        guard getuid() == 0 else { return }
        try run("/bin/chown", ["-R", "postgres:", path])
    }

    /// - Parameter storeSections: `[[stores]]` text that replaces the local stores (an S3 store).
    func config(cluster: String = "main", stores: [String], extra: String = "", storeSections: String? = nil) throws -> String {
        var text = "[cluster]\nname = \"\(cluster)\"\n\(extra)\n"
        for (i, store) in stores.enumerated() where storeSections == nil {
            text += "[[stores]]\nname = \"store\(i + 1)\"\ntype = \"local\"\npath = \"\(store)\"\n"
        }
        text += storeSections ?? ""
        return try write("walvault.toml", text)
    }

    func walvault(_ arguments: [String], asPostgres: Bool = false, stdin: String = "/dev/null") throws -> ProcessResult {
        try run(walvault, arguments, asPostgres: asPostgres, stdin: stdin)
    }
}

/// A real PostgreSQL 15 cluster in its own directory and port, run as the postgres user.
final class PostgresCluster {
    let workspace: Workspace
    let pgdata: String
    let port: Int
    private var started = false

    init(workspace: Workspace, name: String = "pgdata") {
        self.workspace = workspace
        pgdata = workspace.file(name)
        port = Fixture.freePort()
    }

    /// An existing data directory (a restored one), run on the given port.
    init(workspace: Workspace, pgdata: String, port: Int) {
        self.workspace = workspace
        self.pgdata = pgdata
        self.port = port
    }

    /// Waits (bounded) until recovery has finished and the server accepts writes.
    func waitForPromotion(attempts: Int = 600) throws {
        for _ in 0..<attempts {
            if (try? sql("SELECT pg_is_in_recovery()")) == "f" { return }
            usleep(100_000)
        }
        let log = (try? String(contentsOfFile: pgdata + ".log", encoding: .utf8)) ?? ""
        throw TestFailure("server did not promote: \(log.suffix(3000))")
    }

    deinit { try? stop(mode: "immediate") }

    func initdb(settings: [String: String], arguments: [String] = []) throws {
        try workspace.giveToPostgres()
        let result = try run(
            Fixture.postgresBin + "/initdb", ["-D", pgdata, "-U", "postgres", "--no-sync", "-A", "trust"] + arguments,
            asPostgres: true)
        guard result.status == 0 else { throw TestFailure("initdb failed: \(result.stderr)") }
        var conf = "\nport = \(port)\nlisten_addresses = ''\nunix_socket_directories = '\(workspace.path)'\nfsync = off\n"
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) { conf += "\(key) = \(value)\n" }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: pgdata + "/postgresql.conf"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(conf.utf8))
        try handle.close()
    }

    func start() throws {
        let result = try run(Fixture.postgresBin + "/pg_ctl", ["-D", pgdata, "-l", pgdata + ".log", "-w", "-t", "120", "start"], asPostgres: true)
        guard result.status == 0 else {
            let log = (try? String(contentsOfFile: pgdata + ".log", encoding: .utf8)) ?? ""
            throw TestFailure("pg_ctl start failed: \(result.stdout) \(result.stderr) \(log.suffix(2000))")
        }
        started = true
    }

    func stop(mode: String = "fast") throws {
        guard started else { return }
        started = false
        try run(Fixture.postgresBin + "/pg_ctl", ["-D", pgdata, "-m", mode, "-w", "stop"], asPostgres: true)
    }

    /// Runs SQL through psql and returns its unaligned, tuples-only output.
    @discardableResult
    func sql(_ statement: String) throws -> String {
        let result = try run(
            "/usr/bin/psql",
            [
                "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", workspace.path, "-p", "\(port)",
                "-U", "postgres", "-d", "postgres", "-c", statement
            ], asPostgres: true)
        guard result.status == 0 else { throw TestFailure("psql failed on \(statement.prefix(80)): \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Waits (bounded) until the archiver has processed `walFile` or failed; returns pg_stat_archiver's row.
    func waitForArchive(of walFile: String, attempts: Int = 600) throws -> (archived: Int, failed: Int, last: String) {
        for _ in 0..<attempts {
            let row = try sql("SELECT archived_count, failed_count, coalesce(last_archived_wal, '') FROM pg_stat_archiver").split(
                separator: "|", omittingEmptySubsequences: false)
            let result = (archived: Int(row[0])!, failed: Int(row[1])!, last: String(row[2]))
            if result.last >= walFile || result.failed > 0 { return result }
            usleep(100_000)
        }
        throw TestFailure("archiver did not reach \(walFile) in time")
    }
}

extension PostgresCluster {
    /// Waits (bounded) until a new session sees `setting` at `value`: after pg_reload_conf, the
    /// postmaster's children take the new value when they next read the config.
    func waitForSetting(_ setting: String, _ value: String, attempts: Int = 600) throws {
        try poll("\(setting) = \(value) after a reload", attempts: attempts) { try sql("SHOW \(setting)") == value }
    }

    /// Waits (bounded) until the server's clock is more than `seconds` past `moment` (a timestamptz
    /// literal): a recovery target or a window start that must lie strictly between two changes.
    func waitForClock(pastBy seconds: Double, _ moment: String, attempts: Int = 600) throws {
        try poll("the server clock \(seconds) s past \(moment)", attempts: attempts) {
            try sql("SELECT clock_timestamp() > '\(moment)'::timestamptz + interval '\(seconds) seconds'") == "t"
        }
    }
}

/// Checks `condition` every 50 ms until it holds, at most `attempts` times, then fails naming `what`.
func poll(_ what: String, attempts: Int = 600, _ condition: () throws -> Bool) throws {
    for _ in 0..<attempts {
        if try condition() { return }
        usleep(50_000)
    }
    throw TestFailure("timed out waiting for \(what)")
}

/// Whether another process holds an flock on `path` (taken for a moment and let go when free).
func isLockedByAnother(_ path: String) -> Bool {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return true }
    flock(fd, LOCK_UN)
    return false
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func filesRecursively(_ root: String) -> [String] {
    guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
    var files: [String] = []
    while let item = enumerator.nextObject() as? String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: root + "/" + item, isDirectory: &isDir), !isDir.boolValue { files.append(item) }
    }
    return files.sorted()
}

/// Whether a file holds `text` anywhere (read in one piece: store objects and test files are small).
func fileContains(_ path: String, _ text: String) -> Bool {
    guard let data = FileManager.default.contents(atPath: path) else { return false }
    return data.range(of: Data(text.utf8)) != nil
}

func fileStarts(_ path: String, with text: String) -> Bool {
    guard let data = FileManager.default.contents(atPath: path) else { return false }
    return data.prefix(text.utf8.count) == Data(text.utf8)
}
