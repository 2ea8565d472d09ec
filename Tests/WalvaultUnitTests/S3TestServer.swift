#if canImport(Glibc)
import Glibc
#endif
import WalvaultHTTP
import WalvaultPipeline
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

extension S3TestServer {
    /// A store on a fresh prefix, signed with the IAM user's key.
    func store(name: String = "s3", endpoint: String? = nil, prefix: String? = nil, secret: String? = nil, accessKeyID: String? = nil, bucket: String? = nil,
               partSize: Int = 5 << 20, readWindow: Int = 1 << 20, pageSize: Int = 1000,
               policy: RetryingStore.Policy = RetryingStore.Policy(attempts: 3, baseDelayMicros: 1000, maxDelayMicros: 10_000),
               conditionalCreate: S3Store.ConditionalCreate? = nil) -> S3Store {
        let secretBytes = Array((secret ?? secretAccessKey).utf8)
        return S3Store(name: name, endpoint: endpoint ?? self.endpoint, region: region, bucket: bucket ?? self.bucket,
                       prefix: prefix ?? "t-\(UInt64.random(in: 0..<UInt64.max))", pathStyle: true,
                       accessKeyID: accessKeyID ?? self.accessKeyID,
                       secret: secretBytes.withUnsafeBytes { SecretBytes(copying: $0) },
                       partSize: partSize, readWindow: readWindow, pageSize: pageSize, policy: policy,
                       conditionalCreate: conditionalCreate)
    }
}


extension FaultProxy {
    func store(partSize: Int = 5 << 20) throws -> S3Store {
        try S3TestServer.get().store(endpoint: endpoint, partSize: partSize)
    }
}
