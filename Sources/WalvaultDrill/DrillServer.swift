import WalvaultKit
import WalvaultPostgres
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The drill's PostgreSQL: started by pg_ctl on a restored data directory with settings that keep
/// it away from everything production uses, watched until it promotes, and stopped.
package final class DrillServer {
    package let bin: String
    package let pgdata: String
    package let directory: String
    package let port: Int
    /// The role the checks connect as: the one `[cluster] conninfo` names (the restored cluster
    /// has the production cluster's roles, not necessarily one named after this OS user).
    package let user: String
    private var stopped = false

    package var log: String { Paths.join(directory, "server.log") }

    package init(bin: String, pgdata: String, directory: String, port: Int, user: String = DrillServer.userName()) {
        self.bin = bin
        self.pgdata = pgdata
        self.directory = directory
        self.port = port
        self.user = user
    }

    package static let settingsBegin = "# walvault drill: begin"

    /// What the drill adds to postgresql.auto.conf, after the recovery settings: its own port on
    /// loopback and socket directory, no archiving and no upstream (nothing may reach the
    /// production cluster's archive or its primary; its own pg_hba.conf admits no replication), no synchronous standby to wait for after
    /// the promotion, no TLS files it may not have, and its own pg_hba.conf (trust, on a socket
    /// in a directory only this user can enter, and on loopback). Pure, for tests.
    package static func settings(port: Int, directory: String) -> String {
        func quoted(_ s: String) -> String { "'" + s.replacingQuotes() + "'" }
        return """
            \(settingsBegin) (a throwaway copy: never the production cluster)
            port = \(port)
            listen_addresses = '127.0.0.1'
            unix_socket_directories = \(quoted(directory))
            archive_mode = 'off'
            archive_command = ''
            primary_conninfo = ''
            primary_slot_name = ''
            synchronous_standby_names = ''
            wal_level = 'replica'
            ssl = 'off'
            hba_file = \(quoted(directory + "/pg_hba.conf"))
            ident_file = \(quoted(directory + "/pg_ident.conf"))
            cluster_name = 'walvault-drill'
            logging_collector = 'off'
            log_destination = 'stderr'
            shared_preload_libraries = ''
            hot_standby = 'on'

            """
    }

    package static func configure(pgdata: String, directory: String, port: Int) throws {
        // Debian keeps postgresql.conf in /etc: a data directory without one cannot start.
        let conf = Paths.join(pgdata, "postgresql.conf")
        if !FileSystem.exists(conf) { try FileSystem.writeAtomically(conf, contents: Array("# written by walvault drill\n".utf8), mode: 0o600) }
        try FileSystem.writeAtomically(
            Paths.join(directory, "pg_hba.conf"),
            contents: Array("local all all trust\nhost all all 127.0.0.1/32 trust\n".utf8), mode: 0o600)
        try FileSystem.writeAtomically(Paths.join(directory, "pg_ident.conf"), contents: [], mode: 0o600)
        let auto = Paths.join(pgdata, "postgresql.auto.conf")
        let existing = (try? FileSystem.readSmallFile(auto)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        try FileSystem.writeAtomically(
            auto,
            contents: Array(
                (existing + (existing.hasSuffix("\n") || existing.isEmpty ? "" : "\n") + settings(port: port, directory: directory)).utf8),
            mode: 0o600)
    }

    /// A port nothing listens on now: the kernel's choice for 127.0.0.1:0.
    package static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SystemError("open a socket", path: "127.0.0.1") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw SystemError("bind", path: "127.0.0.1:0") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    package static func start(bin: String, pgdata: String, directory: String, port: Int, user: String) throws -> DrillServer {
        let server = DrillServer(bin: bin, pgdata: pgdata, directory: directory, port: port, user: user)
        // -W: pg_ctl returns at once; waitForPromotion watches the server itself.
        let status = try ChildProcess.run(
            Paths.join(bin, "pg_ctl"), ["-D", pgdata, "-l", server.log, "-W", "start"], output: Paths.join(directory, "pg_ctl.log"))
        guard status == 0 else {
            throw CommandError(
                problem:
                    "pg_ctl could not start PostgreSQL on the restored directory (status \(status)): \(server.lastError() ?? "see \(directory)/pg_ctl.log")",
                fix: "run the drill with --keep and read \(server.log)")
        }
        return server
    }

    /// Until `pg_is_in_recovery()` is false; fails at once when the server exits (a missing
    /// segment makes archive-get stop recovery), naming the server's last error.
    package func waitForPromotion(timeoutSeconds: Int) throws {
        let clock = Stopwatch()
        var lastProblem = ""
        while clock.seconds < Double(timeoutSeconds) {
            if let connection = try? connect(database: "postgres") {
                if (try? connection.value("SELECT pg_is_in_recovery()")) == "f" { return }
            } else if !isRunning(), clock.seconds > 2 {
                throw CommandError(
                    problem: "PostgreSQL stopped during recovery: \(lastError() ?? "no error in its log")",
                    fix: "read the server log (--keep keeps \(log)); walvault verify finds missing or damaged WAL")
            }
            lastProblem = lastError() ?? lastProblem
            usleep(200_000)
        }
        throw CommandError(
            problem: "recovery did not finish within \(timeoutSeconds) s\(lastProblem.isEmpty ? "" : " (last error: \(lastProblem))")",
            fix: "give it longer with --timeout, or read the server log with --keep")
    }

    package func connect(database: String) throws -> PostgresConnection {
        try PostgresConnection(
            conninfo:
                "host='\(Self.conninfoQuoted(directory))' port=\(port) dbname='\(Self.conninfoQuoted(database))' user='\(Self.conninfoQuoted(user))' sslmode=disable",
            connectTimeout: 5)
    }

    package func isRunning() -> Bool {
        guard let text = try? FileSystem.readSmallFile(Paths.join(pgdata, "postmaster.pid")),
            let pid = Int32(String(decoding: text, as: UTF8.self).split(separator: "\n").first ?? "")
        else { return false }
        return FileSystem.isProcessAlive(pid)
    }

    /// The last FATAL or PANIC line of the server log, or walvault's own error line.
    package func lastError() -> String? {
        // The last 64 KiB only: a long recovery logs a line per segment.
        let fd = open(log, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let end = lseek(fd, 0, SEEK_END)
        var bytes = [UInt8](repeating: 0, count: Int(min(end, 64 << 10)))
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, end - off_t($0.count)) }
        guard got > 0 else { return nil }
        let lines = String(decoding: bytes.prefix(got), as: UTF8.self).split(separator: "\n")
        let markers = ["walvault archive-get: error", "FATAL:", "PANIC:"].map { Array($0.utf8) }
        return lines.last { line in markers.contains { Self.bytes(Array(line.utf8), contain: $0) } }.map(String.init)
    }

    /// A plain byte search: String.contains would resolve to Foundation's here and pull ICU into
    /// the static binary (scripts/check-binary.sh).
    package static func bytes(_ haystack: [UInt8], contain needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        return (0...(haystack.count - needle.count)).contains { start in haystack[start..<(start + needle.count)].elementsEqual(needle) }
    }

    package func stop() {
        guard !stopped else { return }
        stopped = true
        _ = try? ChildProcess.run(
            Paths.join(bin, "pg_ctl"), ["-D", pgdata, "-m", "fast", "-w", "-t", "120", "stop"], output: Paths.join(directory, "pg_ctl.log"))
    }

    /// libpq's quoting inside '…': a backslash before each quote and backslash.
    package static func conninfoQuoted(_ value: String) -> String {
        var out = ""
        for c in value { out += c == "'" || c == "\\" ? "\\" + String(c) : String(c) }
        return out
    }

    package static func userName() -> String {
        guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return "postgres" }
        return String(cString: name)
    }
}
