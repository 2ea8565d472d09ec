import WalvaultPipeline
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// AWS Signature Version 4, as S3, Backblaze B2's S3 API and Google Cloud Storage's XML API
/// (HMAC keys) check it. Every primitive is OpenSSL's (SHA-256, HMAC-SHA256 through
/// `KeyDerivation`); this only assembles the canonical request and the string to sign, which
/// Debian 12's libcurl 7.88 gets wrong for S3 (it neither sorts nor encodes the query, and
/// mis-signs `?uploads`). Pure: the moment and the request in, the Authorization header out,
/// checked against the AWS SigV4 test suite and the S3 documentation's example.
public struct SigV4: Sendable {
    public let accessKeyID: String
    let secret: SecretBytes
    public let region: String
    public let service: String

    public init(accessKeyID: String, secret: SecretBytes, region: String, service: String = "s3") {
        self.accessKeyID = accessKeyID
        self.secret = secret
        self.region = region
        self.service = service
    }

    public struct Signed: Equatable {
        /// The value of the `Authorization` header. Holds the key ID and a signature, never the secret.
        public let authorization: String
        public let canonicalRequest: String
        public let stringToSign: String
    }

    public static let emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// - Parameters:
    ///   - path: the path as sent, already URI-encoded (`uriEncode(_:keepSlashes: true)`).
    ///   - query: decoded names and values; a valueless parameter (`?uploads`) is ("uploads", "").
    ///   - headers: every header to sign, `host` and `x-amz-date` among them.
    ///   - payloadHash: hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    ///   - timestamp: `YYYYMMDDTHHMMSSZ`, the same as the `x-amz-date` header.
    public func sign(
        method: String, path: String, query: [(String, String)], headers: [(String, String)],
        payloadHash: String, timestamp: String
    ) -> Signed {
        let encoded: [(name: String, value: String)] = query.map { (Self.uriEncode($0.0), Self.uriEncode($0.1)) }
        let sorted = encoded.sorted { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        let canonicalQuery = sorted.map { $0.name + "=" + $0.value }.joined(separator: "&")
        var merged: [String: [String]] = [:]
        for (name, value) in headers { merged[name.lowercased(), default: []].append(Self.trimmed(value)) }
        let names = merged.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(merged[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonicalRequest = [method, path.isEmpty ? "/" : path, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash]
            .joined(separator: "\n")
        let day = String(timestamp.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", timestamp, scope, SHA256Hasher.hex(of: Array(canonicalRequest.utf8))].joined(separator: "\n")
        let signature = Hex.encode(hmac(signingKey(day: day), stringToSign))
        return Signed(
            authorization: "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)",
            canonicalRequest: canonicalRequest, stringToSign: stringToSign)
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request").
    func signingKey(day: String) -> SecretBytes {
        let prefix = Array("AWS4".utf8)
        let first = SecretBytes(count: prefix.count + secret.count)
        first.withUnsafeMutableBytes { out in
            prefix.withUnsafeBytes { out.copyMemory(from: $0) }
            secret.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[prefix.count...]).copyMemory(from: $0) }
        }
        var key = first
        for part in [day, region, service, "aws4_request"] {
            var next = hmac(key, part)
            key = next.withUnsafeBytes { SecretBytes(copying: $0) }
            SecretBytes.wipe(&next)
        }
        return key
    }

    func hmac(_ key: SecretBytes, _ message: String) -> [UInt8] {
        KeyDerivation.hmacSHA256(key: key, message: Array(message.utf8))
    }

    /// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay, everything else
    /// is %XX in upper case; with `keepSlashes`, for an object key's path.
    public static func uriEncode(_ text: String, keepSlashes: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(byte)))
            case UInt8(ascii: "/") where keepSlashes:
                out.append("/")
            default:
                out += "%" + Hex.encode([byte]).uppercased()
            }
        }
        return out
    }

    /// Leading and trailing spaces removed, runs of spaces inside folded to one.
    static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    /// `YYYYMMDDTHHMMSSZ` for a moment (µs since the epoch).
    public static func timestamp(_ micros: Int64) -> String { UTCTime.compact(micros) }
}
