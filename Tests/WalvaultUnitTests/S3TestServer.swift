#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import WalvaultPipeline
import WalvaultStores
import WalvaultSystem

/// The real S3-compatible server the tests use: moto, started once per test process by
/// scripts/testing/s3-server.py on a loopback port, checking every signature against an IAM user's
/// key. Each store a test makes gets its own prefix in the one bucket.
struct S3TestServer: Sendable {
    let endpoint: String
    let bucket: String
    let region: String
    let accessKeyID: String
    let secretAccessKey: String

    private struct Announcement: Decodable {
        let endpoint: String
        let bucket: String
        let region: String
        let access_key_id: String
        let secret_access_key: String
    }

    static let repositoryRoot: String = {
        var path = #filePath
        for _ in 0..<3 { path = Paths.dirname(path) }
        return path
    }()

    /// Started on first use; a failure to start is every S3 test's failure, with the reason.
    static let shared: Result<S3TestServer, TestSetupError> = start()

    static func get() throws -> S3TestServer { try shared.get() }

    private static func start() -> Result<S3TestServer, TestSetupError> {
        let dir = TempDir()
        let announcement = Paths.join(dir.path, "server.json")
        // Kept after the run: moto's log is where a 500 explains itself.
        let errors = "/tmp/walvault-s3-test-server.\(getpid()).log"
        var stdinPipe: [Int32] = [0, 0]
        guard pipe(&stdinPipe) == 0 else { return .failure(TestSetupError("pipe failed")) }
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
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let script = Paths.join(repositoryRoot, "scripts/testing/s3-server.py")
        let arguments = ["/usr/bin/env", "python3", script, "walvault-test"]
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        guard posix_spawn(&child, "/usr/bin/env", &actions, &attributes, argv, environ) == 0 else {
            return .failure(TestSetupError("cannot start python3 \(script)"))
        }
        close(stdinPipe[0])
        // The write end stays open for the life of this process; the server exits when it closes.
        _ = fcntl(stdinPipe[1], F_SETFD, FD_CLOEXEC)
        for _ in 0..<600 {
            if let text = try? FileSystem.readSmallFile(announcement), text.contains(UInt8(ascii: "\n")),
               let parsed = try? JSONDecoder().decode(Announcement.self, from: Data(text)) {
                _ = dir  // keep the directory until the server is up
                return .success(S3TestServer(endpoint: parsed.endpoint, bucket: parsed.bucket, region: parsed.region,
                                             accessKeyID: parsed.access_key_id, secretAccessKey: parsed.secret_access_key))
            }
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child {
                let why = (try? FileSystem.readSmallFile(errors, limit: 1 << 16)).map { String(decoding: $0, as: UTF8.self) } ?? ""
                return .failure(TestSetupError("the S3 test server exited: \(why.suffix(800)) (install it: pip install 'moto[server]==5.2.1', or run bash scripts/setup.sh)"))
            }
            usleep(50_000)
        }
        return .failure(TestSetupError("the S3 test server did not start within 30 s"))
    }

    /// A store on a fresh prefix, signed with the IAM user's key.
    func store(name: String = "s3", prefix: String? = nil, secret: String? = nil, accessKeyID: String? = nil, bucket: String? = nil,
               partSize: Int = 5 << 20, readWindow: Int = 1 << 20, pageSize: Int = 1000,
               policy: RetryingStore.Policy = RetryingStore.Policy(attempts: 3, baseDelayMicros: 1000, maxDelayMicros: 10_000)) -> S3Store {
        let secretBytes = Array((secret ?? secretAccessKey).utf8)
        return S3Store(name: name, endpoint: endpoint, region: region, bucket: bucket ?? self.bucket,
                       prefix: prefix ?? "t-\(UInt64.random(in: 0..<UInt64.max))", pathStyle: true,
                       accessKeyID: accessKeyID ?? self.accessKeyID,
                       secret: secretBytes.withUnsafeBytes { SecretBytes(copying: $0) },
                       partSize: partSize, readWindow: readWindow, pageSize: pageSize, policy: policy)
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
