#if canImport(Glibc)
import Glibc
#endif
import Testing
import WalvaultHTTP
import WalvaultPipeline
import WalvaultSystem

/// A small HTTP server on a loopback port, in Python's standard library: it echoes what it was
/// sent, serves bytes, answers any status, and can drop a connection without a word.
final class EchoServer {
    static let script = #"""
import hashlib, http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        parts = self.path.split("/")
        if parts[1] == "close":
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        if parts[1] == "bytes":
            size = int(parts[2])
            out = bytes((i * 7) % 251 for i in range(size))
            self.send_response(200)
        elif parts[1] == "status":
            out = ("status " + parts[2]).encode()
            self.send_response(int(parts[2]))
        else:
            out = json.dumps({"method": self.command, "path": self.path, "length": len(body),
                              "sha256": hashlib.sha256(body).hexdigest(),
                              "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
            self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.send_header("X-Echo", "yes")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)
    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""#

    let pid: pid_t
    let port: Int
    let dir = TempDir()

    init() throws {
        let scriptPath = dir.write("echo.py", Array(Self.script.utf8))
        let portFile = Paths.join(dir.path, "port")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, portFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Python prints a traceback for every connection a test drops on purpose.
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let arguments: [String] = ["/usr/bin/python3", scriptPath]
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // The test process may block signals; the server must start with none blocked.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var child: pid_t = 0
        guard posix_spawn(&child, "/usr/bin/python3", &actions, &attributes, argv, environ) == 0 else { throw HTTPError(kind: .permanent, problem: "no python3", fix: "") }
        pid = child
        var found = 0
        for _ in 0..<200 {
            if let text = try? FileSystem.readSmallFile(portFile), let n = Int(String(decoding: text, as: UTF8.self).trimmingNewline()), n > 0 {
                found = n
                break
            }
            usleep(25_000)
        }
        port = found
    }

    deinit {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }
}

private extension String {
    func trimmingNewline() -> String { String(self.prefix { $0 != "\n" }) }
}

@Suite(.serialized) struct HTTPClientTests {
    let server: EchoServer
    init() throws {
        server = try EchoServer()
        #expect(server.port > 0, "the loopback echo server did not start")
    }

    func json(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func aStreamedUploadArrivesWholeWithItsHeaders() throws {
        let client = try HTTPClient()
        let payload = sampleBytes(3 << 20, seed: 5)
        var offset = 0
        let request = HTTPRequest(method: "PUT", url: server.url("/bucket/key"), headers: [("x-amz-date", "20261124T000000Z")],
                                  body: .stream(length: payload.count) { buffer in
                                      let n = min(buffer.count, payload.count - offset)
                                      payload.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
                                      offset += n
                                      return n
                                  })
        let (response, body) = try client.perform(request)
        #expect(response.status == 200)
        #expect(response.header("x-echo") == "yes")
        let text = json(body)
        #expect(text.contains("\"method\": \"PUT\""))
        #expect(text.contains("\"length\": \(payload.count)"))
        #expect(text.contains(SHA256Hasher.hex(of: payload)))
        #expect(text.contains("\"x-amz-date\": \"20261124T000000Z\""))
        #expect(!text.contains("100-continue"))
    }

    @Test func aDownloadStreamsToTheSinkAndOneHandleServesManyRequests() throws {
        let client = try HTTPClient()
        var received = 0
        var hasher = SHA256Hasher()
        let response = try client.perform(HTTPRequest(method: "GET", url: server.url("/bytes/5000000"))) { bytes in
            received += bytes.count
            hasher.update(bytes)
        }
        #expect(response.status == 200)
        #expect(received == 5_000_000)
        hasher = SHA256Hasher()
        let head = try client.perform(HTTPRequest(method: "HEAD", url: server.url("/bytes/10")))
        #expect(head.response.status == 200 && head.body.isEmpty)
        let post = try client.perform(HTTPRequest(method: "POST", url: server.url("/x?uploads="), body: .bytes([1, 2, 3])))
        #expect(json(post.body).contains("\"method\": \"POST\"") && json(post.body).contains("\"length\": 3"))
        let delete = try client.perform(HTTPRequest(method: "DELETE", url: server.url("/x")))
        #expect(json(delete.body).contains("\"method\": \"DELETE\""))
        #expect(try client.perform(HTTPRequest(method: "GET", url: server.url("/status/404"))).response.status == 404)
    }

    @Test func connectionFailuresAreTransientAndNameOnlyTheDisplayURL() throws {
        let client = try HTTPClient()
        let secret = "bot123456:SECRET-TOKEN-MARKER"
        do {
            _ = try client.perform(HTTPRequest(method: "GET", url: server.url("/close/\(secret)"), displayURL: server.url("/close/bot<redacted>")))
            Issue.record("expected an error")
        } catch let error as HTTPError {
            #expect(error.kind == .transient)
            #expect(error.errorCode == "http.transient")
            #expect(!"\(error)".contains("SECRET-TOKEN-MARKER"))
            #expect("\(error)".contains("bot<redacted>"))
        }
        do {
            _ = try client.perform(HTTPRequest(method: "GET", url: "http://127.0.0.1:1/"))
            Issue.record("expected an error")
        } catch let error as HTTPError {
            #expect(error.kind == .transient)
        }
    }

    @Test func anErrorInTheCallersReaderOrSinkStopsTheTransferAndIsRethrown() throws {
        struct Stop: Error {}
        let client = try HTTPClient()
        #expect(throws: Stop.self) {
            _ = try client.perform(HTTPRequest(method: "GET", url: server.url("/bytes/100000"))) { _ in throw Stop() }
        }
        #expect(throws: Stop.self) {
            _ = try client.perform(HTTPRequest(method: "PUT", url: server.url("/k"), body: .stream(length: 10) { _ in throw Stop() }))
        }
        // The handle is still good afterwards.
        #expect(try client.perform(HTTPRequest(method: "GET", url: server.url("/bytes/3"))).body.count == 3)
    }
}
