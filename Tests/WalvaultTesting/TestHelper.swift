import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The real S3-compatible server the tests use: moto, started once per test process by
/// scripts/testing/s3-server.py on a loopback port, checking every signature against an IAM user's
/// key. Each store a test makes gets its own prefix in the one bucket.
public struct S3TestServer: Sendable {
    public let endpoint: String
    public let bucket: String
    public let region: String
    public let accessKeyID: String
    public let secretAccessKey: String
    /// A second user whose policy allows reading and listing only.
    public let readerAccessKeyID: String
    public let readerSecretAccessKey: String

    private struct Announcement: Decodable {
        public let endpoint: String
        public let bucket: String
        public let region: String
        let access_key_id: String
        let secret_access_key: String
        let reader_access_key_id: String
        let reader_secret_access_key: String
    }

    /// Started on first use; a failure to start is every S3 test's failure, with the reason.
    public static let shared: Result<S3TestServer, TestSetupError> = start()

    /// - Parameter caller: the test file asking (its default); the unit target may not.
    public static func get(caller: String = #fileID) throws -> S3TestServer {
        try TestHelper.refuseInUnitTarget(caller, what: "moto")
        return try shared.get()
    }

    /// A `[[stores]]` section for this server, its keys read from the files given, under a
    /// prefix of the test's own so tests sharing the bucket never see each other's objects.
    /// - Parameter extra: more keys of the section (`mode = "async"`).
    public func storeSection(name: String = "cloud", prefix: String, keyFile: String, secretFile: String, endpoint: String? = nil, extra: String = "")
        -> String
    {
        var section = "[[stores]]\nname = \"\(name)\"\ntype = \"s3\"\n" + (extra.isEmpty ? "" : extra + "\n")
        section += "endpoint = \"\(endpoint ?? self.endpoint)\"\nregion = \"\(region)\"\nbucket = \"\(bucket)\"\nprefix = \"\(prefix)\"\n"
        section += "path_style = true\naccess_key_id_file = \"\(keyFile)\"\nsecret_access_key_file = \"\(secretFile)\"\n"
        return section
    }

    private static func start() -> Result<S3TestServer, TestSetupError> {
        Result {
            let line = try TestHelper.start(
                script: "s3-server.py", arguments: ["walvault-test"],
                hint: "install it: pip install 'moto[server]==5.2.1', or run bash scripts/setup.sh")
            let parsed = try JSONDecoder().decode(Announcement.self, from: Data(line.utf8))
            return S3TestServer(
                endpoint: parsed.endpoint, bucket: parsed.bucket, region: parsed.region,
                accessKeyID: parsed.access_key_id, secretAccessKey: parsed.secret_access_key,
                readerAccessKeyID: parsed.reader_access_key_id, readerSecretAccessKey: parsed.reader_secret_access_key)
        }.mapError { $0 as? TestSetupError ?? TestSetupError("\($0)") }
    }

}

/// A helper script from scripts/testing, run with python3 for the life of this test process: it
/// prints one line (where it listens) and exits when its stdin closes, which happens when this
/// process ends however it ends, so no server outlives a test run.
public enum TestHelper {
    public static let repositoryRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }()

    /// The unit target starts no server: a stand-in asked for from one of its files refuses, so a
    /// test that needs a server cannot slip back into it (both targets run in one test process).
    public static func refuseInUnitTarget(_ caller: String, what: String) throws {
        guard caller.hasPrefix("WalvaultUnitTests/") else { return }
        throw TestSetupError("\(caller) asked for \(what), and the unit target starts no server: move the test to WalvaultIntegrationTests")
    }

    /// - Returns: the first line the script printed.
    public static func start(script name: String, arguments: [String], hint: String) throws -> String {
        var template = Array("/tmp/walvault-helper.XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let announcement = dir + "/out"
        // Kept after the run: the helper's log is where a 500 explains itself.
        let errors = "/tmp/walvault-test-\(name).\(getpid()).log"
        var stdinPipe: [Int32] = [0, 0]
        guard pipe(&stdinPipe) == 0 else { throw TestSetupError("pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_addclose(&actions, stdinPipe[1])
        posix_spawn_file_actions_addopen(&actions, 1, announcement, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The test process may block signals; the helper must start with none blocked.
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let script = repositoryRoot + "/scripts/testing/" + name
        let argv: [UnsafeMutablePointer<CChar>?] = (["/usr/bin/env", "python3", script] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        guard posix_spawn(&child, "/usr/bin/env", &actions, &attributes, argv, environ) == 0 else {
            throw TestSetupError("cannot start python3 \(script)")
        }
        close(stdinPipe[0])
        // The write end stays open for the life of this process, and out of every other child.
        _ = fcntl(stdinPipe[1], F_SETFD, FD_CLOEXEC)
        for _ in 0..<600 {
            if let text = FileManager.default.contents(atPath: announcement).map(Array.init), let newline = text.firstIndex(of: UInt8(ascii: "\n")) {
                return String(decoding: text[..<newline], as: UTF8.self)
            }
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child {
                let why = FileManager.default.contents(atPath: errors).map { String(decoding: $0, as: UTF8.self) } ?? ""
                throw TestSetupError("\(name) exited: \(why.suffix(800)) (\(hint))")
            }
            usleep(50_000)
        }
        throw TestSetupError("\(name) did not start within 30 s")
    }
}

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The fault-injecting proxy (scripts/testing/fault-proxy.py) in front of the S3 test server,
/// commanded through a control file.
public final class FaultProxy: Sendable {
    public let port: Int
    let control: String

    public init(caller: String = #fileID) throws {
        try TestHelper.refuseInUnitTarget(caller, what: "the fault proxy")
        let server = try S3TestServer.get()
        var template = Array("/tmp/walvault-proxy.XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        chmod(dir, 0o755)
        control = dir + "/control"
        let line = try TestHelper.start(script: "fault-proxy.py", arguments: [server.endpoint, control], hint: "python3 is needed")
        guard let port = Int(line) else { throw TestSetupError("fault-proxy.py printed \(line)") }
        self.port = port
    }

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// `kind`: 500, reset, refuse or clear; `method`: PUT, POST, GET… or ANY.
    public func inject(_ kind: String, _ method: String = "ANY", count: Int = 1) throws {
        let temporary = control + ".new"
        try "\(kind) \(method) \(count)\n".write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, control) == 0 else { throw TestSetupError("cannot command the fault proxy") }
    }

    public func injected() throws -> Int {
        (try? String(contentsOfFile: control + ".count", encoding: .utf8)).flatMap { Int($0) } ?? 0
    }
}

/// scripts/testing/telegram-bot-api.py: a Bot API stand-in that enforces Telegram's documented
/// limits, one per call, with its own token and chat.
public final class TelegramStandIn: Sendable {
    public let port: Int
    public let token: String
    public let chatID: String
    let control: String

    public init(
        token: String = "123456:TEST-\(UInt32.random(in: 0..<UInt32.max))", chatID: String = "-1001234567890",
        caller: String = #fileID
    ) throws {
        try TestHelper.refuseInUnitTarget(caller, what: "the Telegram stand-in")
        var template = Array("/tmp/walvault-telegram.XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        chmod(dir, 0o755)
        control = dir + "/control"
        let line = try TestHelper.start(script: "telegram-bot-api.py", arguments: [token, chatID, control], hint: "python3 is needed")
        guard let port = Int(line) else { throw TestSetupError("telegram-bot-api.py printed \(line)") }
        self.port = port
        self.token = token
        self.chatID = chatID
    }

    public var apiBase: String { "http://127.0.0.1:\(port)" }

    /// rate (messages per window), window (s), clock_offset (s), fail_share (0…1), fail_kind ("502"/"drop").
    public func set(_ settings: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: settings)
        try data.write(to: URL(fileURLWithPath: control + ".new"))
        guard rename(control + ".new", control) == 0 else { throw TestSetupError("cannot command the Telegram stand-in") }
    }

    /// requests, served_429, documents, document_bytes, deleted.
    public func stats() -> [String: Int] {
        guard let data = FileManager.default.contents(atPath: control + ".stats"),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        return object.compactMapValues { $0 as? Int }
    }

    /// Every sendMessage text so far (alerts).
    public func texts() -> [String] {
        guard let data = FileManager.default.contents(atPath: control + ".stats"),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [] }
        return object["texts"] as? [String] ?? []
    }

    /// A directory the stand-in writes files to in --local mode.
    public var directory: String { (control as NSString).deletingLastPathComponent }
}

/// scripts/testing/alert-sinks.py: a webhook receiver and an SMTP server requiring a login, on
/// loopback; what they receive is kept as files in `directory`.
public final class AlertSinks: Sendable {
    public let webhookPort: Int
    public let smtpPort: Int
    public let directory: String

    public init(user: String, password: String, caller: String = #fileID) throws {
        try TestHelper.refuseInUnitTarget(caller, what: "the alert sinks")
        var template = Array("/tmp/walvault-alerts.XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        let line = try TestHelper.start(
            script: "alert-sinks.py", arguments: [directory, user, password], hint: "pip install aiosmtpd==1.4.6 (scripts/setup.sh does)")
        let ports = line.split(separator: " ").compactMap { Int($0) }
        guard ports.count == 2 else { throw TestSetupError("alert-sinks.py printed \(line)") }
        webhookPort = ports[0]
        smtpPort = ports[1]
    }

    /// Bodies received so far whose file names start with `prefix` ("webhook", "mail"), oldest first.
    public func received(_ prefix: String) -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter {
            $0.hasPrefix(prefix + "-") && !$0.hasSuffix(".tmp")
        }
        return names.sorted { Int($0.split(separator: "-").last!)! < Int($1.split(separator: "-").last!)! }
            .compactMap { try? String(contentsOfFile: directory + "/" + $0, encoding: .utf8) }
    }
}
