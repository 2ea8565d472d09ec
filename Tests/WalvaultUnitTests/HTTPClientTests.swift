import Testing
import WalvaultHTTP
import WalvaultPipeline
import WalvaultSystem
import WalvaultTesting

#if canImport(Glibc)
    import Glibc
#endif

/// scripts/testing/echo-server.py on a loopback port, for the life of the test process.
final class EchoServer: Sendable {
    static let shared: Result<EchoServer, TestSetupError> = Result {
        let line = try TestHelper.start(script: "echo-server.py", arguments: [], hint: "python3 is needed")
        guard let port = Int(line) else { throw TestSetupError("echo-server.py printed \(line)") }
        return EchoServer(port: port)
    }.mapError { $0 as? TestSetupError ?? TestSetupError("\($0)") }

    let port: Int
    init(port: Int) { self.port = port }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }
}

@Suite(.serialized) struct HTTPClientTests {
    let server: EchoServer
    init() throws {
        server = try EchoServer.shared.get()
    }

    func json(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func aStreamedUploadArrivesWholeWithItsHeaders() throws {
        let client = try HTTPClient()
        let payload = sampleBytes(3 << 20, seed: 5)
        var offset = 0
        let request = HTTPRequest(
            method: "PUT", url: server.url("/bucket/key"), headers: [("x-amz-date", "20261124T000000Z")],
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
