import WalvaultHTTP

/// What an S3 error answer means for walvault: whether to retry, and what the owner should do.
/// Pure: the status, the service's error code and the action in, a `StoreError` out.
public enum S3Failure {
    public static func kind(status: Int, code: String?) -> StoreError.Kind {
        let code = code ?? ""
        if code == "NotImplemented" { return .permanent }
        if ["SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "OperationAborted", "ConditionalRequestConflict"].contains(code) {
            return .transient
        }
        if status == 429 || (500...599).contains(status) { return .transient }
        if code == "NoSuchBucket" { return .permanent }
        switch status {
        case 404: return .notFound
        case 412: return .conflict
        case 401, 403: return .auth
        default: return .permanent
        }
    }

    /// What to do about a code, naming the config key or the permission to change.
    static func fix(code: String?, status: Int, bucket: String) -> String {
        switch code ?? "" {
        case "SignatureDoesNotMatch":
            return "the secret does not match the key id: check secret_access_key_env/_file (and that region is the bucket's)"
        case "InvalidAccessKeyId":
            return "the service does not know this key id: check access_key_id_env/_file"
        case "NoSuchBucket":
            return "create bucket \(bucket), or fix bucket, endpoint and region in the config"
        case "AccessDenied", "AllAccessDisabled":
            return "give the key read, write, list and delete permissions on bucket \(bucket)"
        case "RequestTimeTooSkewed":
            return "this machine's clock is off: fix it (timedatectl, NTP)"
        case "AuthorizationHeaderMalformed", "InvalidRegion":
            return "check region: it must be the bucket's region"
        case "PermanentRedirect":
            return "the bucket lives elsewhere: fix endpoint and region"
        case "NotImplemented":
            return "this service lacks a feature walvault uses; report it with the service's name"
        default:
            switch kind(status: status, code: code) {
            case .transient: return "the service is unavailable or throttling (walvault retried it); try again later"
            case .auth: return "check the key's permissions on bucket \(bucket)"
            default: return "check endpoint, region, bucket and path_style in the config"
            }
        }
    }

    /// `Code` and `Message` of an `<Error>` answer; nil for an empty or non-XML body (a proxy's page).
    struct ErrorBody: Equatable {
        var code: String?
        var message: String?

        init(_ body: [UInt8]) {
            guard !body.isEmpty, let root = try? XMLElement.parse(body, what: "the error answer"), root.name == "Error" else { return }
            code = root.value("Code")
            message = root.value("Message")
        }
    }

    /// One line: the store, what was done to which object, the status and the service's code.
    /// The service's message is kept (it says what is wrong) but never the error body's other
    /// fields, which may echo the canonical request and the key id.
    static func error(store: String, action: String, object: String, status: Int, body: [UInt8], bucket: String) -> StoreError {
        error(store: store, action: action, object: object, status: status, parsed: ErrorBody(body), bucket: bucket)
    }

    static func error(store: String, action: String, object: String, status: Int, parsed: ErrorBody, bucket: String) -> StoreError {
        let detail = [parsed.code, parsed.message.map { String($0.prefix(200)) }].compactMap { $0 }.joined(separator: ": ")
        return StoreError(
            store: store, kind: kind(status: status, code: parsed.code),
            problem: "\(action) \(object) failed: HTTP \(status)" + (detail.isEmpty ? "" : " \(detail)"),
            fix: fix(code: parsed.code, status: status, bucket: bucket))
    }

    static func error(store: String, _ http: HTTPError) -> StoreError {
        StoreError(store: store, kind: http.kind == .transient ? .transient : .permanent, problem: http.problem, fix: http.fix)
    }
}
