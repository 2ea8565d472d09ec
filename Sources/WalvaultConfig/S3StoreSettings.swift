/// One `type = "s3"` store: AWS S3, Backblaze B2's S3 API, Google Cloud Storage's XML API with
/// HMAC keys, or any other service that speaks S3. Credentials are named, never written here.
public struct S3StoreSettings: Sendable, Equatable {
    /// `https://s3.us-west-004.backblazeb2.com`: scheme and host (and port), no path.
    public var endpoint: String
    public var region: String
    public var bucket: String
    /// Key prefix inside the bucket, without leading or trailing slashes; "" for the root.
    public var prefix: String
    public var accessKeyID: SecretSource
    public var secretAccessKey: SecretSource
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`.
    public var pathStyle: Bool

    public init(
        endpoint: String, region: String, bucket: String, prefix: String = "", accessKeyID: SecretSource,
        secretAccessKey: SecretSource, pathStyle: Bool = false
    ) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.prefix = prefix
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.pathStyle = pathStyle
    }

    /// S3's own bucket naming rule (3 to 63 lower-case letters, digits, '-' and '.'), which B2 and
    /// GCS share; checked here so a typo is a config error, not a signature failure later.
    public static func isValidBucket(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (3...63).contains(bytes.count), let first = bytes.first, let last = bytes.last else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
        return alnum(first) && alnum(last) && bytes.allSatisfy { alnum($0) || $0 == 45 || $0 == 46 }
    }
}

/// Where a secret is read from when a store is opened: an environment variable or a file.
public enum SecretSource: Sendable, Equatable {
    case environment(String)
    case file(String)
}
