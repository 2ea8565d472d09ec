/// A store as `walvault init --store` names it on one line: `local:/srv/walvault`,
/// `s3://bucket/prefix?endpoint=https://…&region=…` or `telegram:-1001234567890`.
public enum StoreSpec: Sendable, Equatable {
    case local(path: String)
    case s3(bucket: String, prefix: String, endpoint: String, region: String, pathStyle: Bool)
    case telegram(chatID: String, apiBase: String?)

    public var type: String {
        switch self {
        case .local: return "local"
        case .s3: return "s3"
        case .telegram: return "telegram"
        }
    }

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public let spec: String
        public let problem: String
        public let fix: String
        public var description: String { "--store \(spec): \(problem); \(fix)" }
    }

    public static let forms = "local:PATH, s3://BUCKET/PREFIX?region=REGION[&endpoint=URL][&path_style=true] or telegram:CHAT_ID"

    public static func parse(_ text: String) throws -> StoreSpec {
        func invalid(_ problem: String, _ fix: String) -> Invalid { Invalid(spec: text, problem: problem, fix: fix) }
        if text.hasPrefix("local:") {
            let path = String(text.dropFirst("local:".count))
            guard path.hasPrefix("/") else { throw invalid("\"\(path)\" is not an absolute path", "write local:/var/backups/walvault") }
            var trimmed = path
            while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
            return .local(path: trimmed)
        }
        if text.hasPrefix("telegram:") {
            var rest = String(text.dropFirst("telegram:".count))
            var apiBase: String?
            if let question = rest.firstIndex(of: "?") {
                let query = try parseQuery(String(rest[rest.index(after: question)...]), spec: text, allowed: ["api_base"])
                apiBase = query["api_base"]
                rest = String(rest[..<question])
            }
            guard TelegramStoreSettings.isValidChatID(rest) else {
                throw invalid("\"\(rest)\" is not a chat id", "write telegram:-1001234567890 (the group's id) or telegram:@channel")
            }
            return .telegram(chatID: rest, apiBase: apiBase)
        }
        if text.hasPrefix("s3://") {
            var rest = String(text.dropFirst("s3://".count))
            var query: [String: String] = [:]
            if let question = rest.firstIndex(of: "?") {
                query = try parseQuery(
                    String(rest[rest.index(after: question)...]), spec: text, allowed: ["endpoint", "region", "path_style"])
                rest = String(rest[..<question])
            }
            let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            let bucket = String(parts.first ?? "")
            guard S3StoreSettings.isValidBucket(bucket) else {
                throw invalid("\"\(bucket)\" is not a bucket name", "use 3 to 63 lower-case letters, digits, '-' and '.'")
            }
            var prefix = parts.count > 1 ? String(parts[1]) : ""
            while prefix.hasSuffix("/") { prefix.removeLast() }
            guard let region = query["region"], !region.isEmpty else {
                throw invalid("no region", "add ?region=eu-central-1 (the bucket's region; \"auto\" for GCS)")
            }
            let endpoint = query["endpoint"] ?? "https://s3.\(region).amazonaws.com"
            guard endpoint.hasPrefix("https://") || endpoint.hasPrefix("http://") else {
                throw invalid("endpoint \"\(endpoint)\" is not an http:// or https:// URL", "write endpoint=https://s3.us-west-004.backblazeb2.com")
            }
            var pathStyle = false
            if let value = query["path_style"] {
                guard value == "true" || value == "false" else { throw invalid("path_style=\(value)", "write path_style=true or leave it out") }
                pathStyle = value == "true"
            }
            return .s3(bucket: bucket, prefix: prefix, endpoint: endpoint, region: region, pathStyle: pathStyle)
        }
        throw invalid("not a store", "write one of \(forms)")
    }

    /// `a=b&c=d`, with %XX decoded, so an endpoint may be given either way.
    private static func parseQuery(_ query: String, spec: String, allowed: [String]) throws -> [String: String] {
        var values: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let halves = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(halves[0])
            guard allowed.contains(name), halves.count == 2 else {
                throw Invalid(spec: spec, problem: "unknown parameter \"\(name)\"", fix: "use \(allowed.joined(separator: ", "))")
            }
            guard let value = percentDecoded(String(halves[1])) else {
                throw Invalid(spec: spec, problem: "\(name) has a broken %-escape", fix: "write %XX with two hex digits, or the character itself")
            }
            values[name] = value
        }
        return values
    }

    private static func percentDecoded(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: return byte - 48
        case 65...70: return byte - 55
        case 97...102: return byte - 87
        default: return nil
        }
    }
}
