/// Where a request for a key goes, and what SigV4 signs for it. Pure, so both addressing styles
/// are unit-tested without a network.
public struct S3Addressing: Sendable, Equatable {
    public let scheme: String
    /// The endpoint's host, with its port when it has one.
    public let endpointHost: String
    public let bucket: String
    /// The key prefix, without slashes at either end; "" for the bucket's root.
    public let prefix: String
    public let pathStyle: Bool

    public init(endpoint: String, bucket: String, prefix: String, pathStyle: Bool) {
        let https = endpoint.hasPrefix("https://")
        scheme = https ? "https" : "http"
        endpointHost = String(endpoint.dropFirst(https ? 8 : 7))
        self.bucket = bucket
        self.prefix = prefix
        self.pathStyle = pathStyle
    }

    public struct Target: Equatable {
        public let url: String
        /// The `Host` header, signed.
        public let host: String
        /// The URI-encoded path, as signed.
        public let path: String
        public let query: [(String, String)]

        public static func == (a: Target, b: Target) -> Bool {
            a.url == b.url && a.host == b.host && a.path == b.path && a.query.elementsEqual(b.query, by: ==)
        }
    }

    /// The bucket's key for a store key: the prefix joined on.
    public func objectKey(_ key: String) -> String { prefix.isEmpty ? key : prefix + "/" + key }

    /// The store key for a bucket key, or nil when it lies outside the prefix.
    public func storeKey(_ objectKey: String) -> String? {
        if prefix.isEmpty { return objectKey }
        guard objectKey.hasPrefix(prefix + "/") else { return nil }
        return String(objectKey.dropFirst(prefix.count + 1))
    }

    /// - Parameter objectKey: the full key in the bucket, or nil for the bucket itself (listings).
    public func target(objectKey: String?, query: [(String, String)] = []) -> Target {
        let encodedKey = objectKey.map { SigV4.uriEncode($0, keepSlashes: true) }
        let host = pathStyle ? endpointHost : bucket + "." + endpointHost
        let path = pathStyle ? "/" + bucket + (encodedKey.map { "/" + $0 } ?? "") : "/" + (encodedKey ?? "")
        // Encoded and in order exactly as SigV4 canonicalises it, so what is sent is what was signed.
        let sorted = query.map { (SigV4.uriEncode($0.0), SigV4.uriEncode($0.1)) }.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
        let queryString = sorted.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        return Target(url: "\(scheme)://\(host)\(path)" + (queryString.isEmpty ? "" : "?" + queryString), host: host, path: path, query: query)
    }

    /// How messages name an object: `s3://bucket/prefix/key`, no endpoint secrets, no query.
    public func display(_ objectKey: String?) -> String { "s3://\(bucket)" + (objectKey.map { "/" + $0 } ?? "") }
}
