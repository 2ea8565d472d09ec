#if canImport(Glibc)
import Glibc
#endif
import WalvaultHTTP
import WalvaultPipeline
import WalvaultStores
import WalvaultSystem
import WalvaultTestHelpers

extension S3TestServer {
    /// A store on a fresh prefix, signed with the IAM user's key.
    func store(name: String = "s3", endpoint: String? = nil, prefix: String? = nil, secret: String? = nil, accessKeyID: String? = nil, bucket: String? = nil,
               partSize: Int = 5 << 20, readWindow: Int = 1 << 20, pageSize: Int = 1000,
               policy: RetryingStore.Policy = RetryingStore.Policy(attempts: 3, baseDelayMicros: 1000, maxDelayMicros: 10_000)) -> S3Store {
        let secretBytes = Array((secret ?? secretAccessKey).utf8)
        return S3Store(name: name, endpoint: endpoint ?? self.endpoint, region: region, bucket: bucket ?? self.bucket,
                       prefix: prefix ?? "t-\(UInt64.random(in: 0..<UInt64.max))", pathStyle: true,
                       accessKeyID: accessKeyID ?? self.accessKeyID,
                       secret: secretBytes.withUnsafeBytes { SecretBytes(copying: $0) },
                       partSize: partSize, readWindow: readWindow, pageSize: pageSize, policy: policy)
    }
}


/// The fault-injecting proxy (scripts/testing/fault-proxy.py) in front of the S3 test server.
final class FaultProxy: Sendable {
    let port: Int
    let server: S3TestServer

    init() throws {
        server = try S3TestServer.get()
        let line = try TestHelper.start(script: "fault-proxy.py", arguments: [server.endpoint], hint: "python3 is needed")
        guard let port = Int(line) else { throw TestSetupError("fault-proxy.py printed \(line)") }
        self.port = port
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// `kind`: 500, reset, refuse or clear; `method`: PUT, POST, GET… or ANY.
    func inject(_ kind: String, _ method: String = "ANY", count: Int = 1) throws {
        let client = try HTTPClient()
        let (response, _) = try client.perform(HTTPRequest(method: "POST", url: "\(endpoint)/__fault/\(kind)/\(method)/\(count)", body: .bytes([])))
        guard response.status == 200 else { throw TestSetupError("the fault proxy answered \(response.status)") }
    }

    func injected() throws -> Int {
        let (_, body) = try HTTPClient().perform(HTTPRequest(method: "GET", url: "\(endpoint)/__fault/count"))
        return Int(String(decoding: body, as: UTF8.self)) ?? -1
    }

    func store(partSize: Int = 5 << 20) -> S3Store {
        server.store(endpoint: endpoint, partSize: partSize)
    }
}
