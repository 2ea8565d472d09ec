import CCurl
import CCurlShims

#if canImport(Glibc)
    import Glibc
#endif

public struct HTTPRequest {
    public enum Body {
        case none
        case bytes([UInt8])
        /// Streamed: `read` fills the buffer and returns how many bytes, 0 at the end; never the
        /// whole body in memory. `rewind` starts it again from byte 0, for when libcurl resends
        /// the request on a fresh connection after a kept-alive one turned out closed; without
        /// it that resend fails (CURLE_SEND_FAIL_REWIND), transiently.
        case stream(length: Int, read: (UnsafeMutableRawBufferPointer) throws -> Int, rewind: (() throws -> Void)? = nil)
        /// multipart/form-data, as POST: text fields, and files whose bytes are read as sent.
        case form([FormField])
    }

    public enum FormField {
        case text(name: String, value: String)
        /// `bytes` are handed to libcurl as they are sent, never copied whole.
        case file(name: String, filename: String, bytes: [UInt8])
        /// `length` bytes read as sent by `readAt(offset, buffer)` (a `pread` of a spilled file),
        /// so a document of any size goes out in 64 KiB steps; offsets let libcurl start again.
        case stream(name: String, filename: String, length: Int, readAt: (Int, UnsafeMutableRawBufferPointer) throws -> Int)
    }

    public var method: String
    public var url: String
    /// How messages name this request: the URL without anything secret in it.
    public var displayURL: String
    public var headers: [(String, String)]
    public var body: Body
    public var connectTimeoutSeconds = 10
    /// Abandon a transfer slower than 1 byte/s for this long (no total timeout: objects are large).
    public var stallTimeoutSeconds = 60

    public init(method: String, url: String, displayURL: String? = nil, headers: [(String, String)] = [], body: Body = .none) {
        self.method = method
        self.url = url
        self.displayURL = displayURL ?? String(url.prefix { $0 != "?" })
        self.headers = headers
        self.body = body
    }
}

/// A secret handed to libcurl as a C string without a copy in a Swift `String` (the password of
/// an SMTP login): whoever holds the secret bytes supplies this.
public protocol SecretBytesView {
    func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R
}

public struct HTTPResponse {
    public let status: Int
    /// In the order received; names as sent (compare case-insensitively, `header(_:)` does).
    public let headers: [(String, String)]

    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.last { $0.0.lowercased() == wanted }?.1
    }
}

/// One HTTP exchange at a time over a libcurl easy handle, blocking, as the rest of walvault's
/// byte pipeline is (long-running services run it on their own threads). Bodies stream in both
/// directions; an error thrown by the caller's reader or sink stops the transfer and is rethrown.
/// `@unchecked Sendable`: one thread uses it at a time; pools hand it from thread to thread.
public final class HTTPClient: @unchecked Sendable {
    private let curl: LibCurl
    private let handle: UnsafeMutableRawPointer

    public init() throws {
        curl = try LibCurl.shared.get()
        guard let handle = curl.easyInit() else {
            throw HTTPError(kind: .permanent, problem: "libcurl could not create a handle", fix: "check free memory")
        }
        self.handle = handle
    }

    deinit { curl.easyCleanup(handle) }

    /// The libcurl version string, for `--verbose` and bug reports.
    public var libraryVersion: String { curl.version().map { String(cString: $0) } ?? "unknown" }

    /// Performs the request; the response body goes to `sink` as it arrives.
    public func perform(_ request: HTTPRequest, sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws -> HTTPResponse {
        let exchange = Exchange(sink: sink)
        if case .stream(_, let read, let rewind) = request.body {
            exchange.read = read
            exchange.rewind = rewind
        }
        if case .bytes(let bytes) = request.body { exchange.reading(bytes) }
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl.slistFreeAll(list) }
        var mime: OpaquePointer?
        defer { curl.mimeFree(mime) }
        var fileSources: [Unmanaged<FormFileSource>] = []
        defer { fileSources.forEach { $0.release() } }
        // "Expect:" removes curl's 100-continue round trip on uploads.
        for (name, value) in request.headers + [("Expect", "")] {
            list = curl.slistAppend(list, value.isEmpty ? "\(name):" : "\(name): \(value)")
        }
        let context = Unmanaged.passRetained(exchange)
        defer { context.release() }

        try reset()
        try set(CURLOPT_URL, request.url)
        // HTTP and HTTPS only: a URL from the config or the environment (a webhook) must not make
        // walvault read file:// or speak another protocol libcurl knows.
        try set(CURLOPT_PROTOCOLS_STR, "http,https")
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_FOLLOWLOCATION, 0)
        try set(CURLOPT_CONNECTTIMEOUT, request.connectTimeoutSeconds)
        try set(CURLOPT_LOW_SPEED_LIMIT, 1)
        try set(CURLOPT_LOW_SPEED_TIME, request.stallTimeoutSeconds)
        try check(wv_curl_setopt_pointer(curl.setopt, handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list)))
        try check(wv_curl_setopt_callback(curl.setopt, handle, CURLOPT_WRITEFUNCTION, writeCallback))
        try check(wv_curl_setopt_pointer(curl.setopt, handle, CURLOPT_WRITEDATA, context.toOpaque()))
        try check(wv_curl_setopt_callback(curl.setopt, handle, CURLOPT_HEADERFUNCTION, headerCallback))
        try check(wv_curl_setopt_pointer(curl.setopt, handle, CURLOPT_HEADERDATA, context.toOpaque()))
        switch request.body {
        case .none:
            if request.method == "HEAD" { try set(CURLOPT_NOBODY, 1) }
        case .bytes(let bytes):
            try upload(length: bytes.count, context: context)
        case .stream(let length, _, _):
            try upload(length: length, context: context)
        case .form(let fields):
            mime = curl.mimeInit(handle)
            for field in fields {
                let part = curl.mimeAddPart(mime)
                switch field {
                case .text(let name, let value):
                    try check(curl.mimeName(part, name))
                    try check(curl.mimeData(part, value, value.utf8.count))
                case .file(let name, let filename, let bytes):
                    try check(curl.mimeName(part, name))
                    try check(curl.mimeFilename(part, filename))
                    let source = Unmanaged.passRetained(FormFileSource(bytes: bytes))
                    fileSources.append(source)
                    try check(curl.mimeDataCallback(part, curl_off_t(bytes.count), formReadCallback, formSeekCallback, nil, source.toOpaque()))
                case .stream(let name, let filename, let length, let readAt):
                    try check(curl.mimeName(part, name))
                    try check(curl.mimeFilename(part, filename))
                    let source = Unmanaged.passRetained(FormFileSource(length: length, readAt: readAt))
                    fileSources.append(source)
                    try check(curl.mimeDataCallback(part, curl_off_t(length), formReadCallback, formSeekCallback, nil, source.toOpaque()))
                }
            }
            try check(wv_curl_setopt_pointer(curl.setopt, handle, CURLOPT_MIMEPOST, UnsafeMutableRawPointer(mime)))
        }
        if request.method != "GET" && request.method != "HEAD", !(request.method == "POST" && mime != nil) {
            try set(CURLOPT_CUSTOMREQUEST, request.method)
        }

        let code = curl.easyPerform(handle)
        if let error = exchange.error { throw error }
        if let error = fileSources.lazy.compactMap({ $0.takeUnretainedValue().error }).first { throw error }
        guard code == CURLE_OK else {
            let reason = curl.easyStrerror(code).map { String(cString: $0) } ?? "error \(code.rawValue)"
            throw HTTPError(
                kind: Self.isTransient(code) ? .transient : .permanent,
                problem: "\(request.method) \(request.displayURL) failed: \(reason)",
                fix: Self.isTransient(code)
                    ? "the service or the network did not answer (walvault retried it); try again later" : "check the endpoint in the config",
                hostNotFound: code == CURLE_COULDNT_RESOLVE_HOST)
        }
        var status = 0
        try check(wv_curl_getinfo_long(curl.getinfo, handle, CURLINFO_RESPONSE_CODE, &status))
        return HTTPResponse(status: status, headers: exchange.headers)
    }

    /// For small answers (listings, errors): the body in memory, refused past `limit` bytes.
    public func perform(_ request: HTTPRequest, limit: Int = 16 << 20) throws -> (response: HTTPResponse, body: [UInt8]) {
        var body: [UInt8] = []
        let response = try perform(request) { bytes in
            guard body.count + bytes.count <= limit else {
                throw HTTPError(
                    kind: .permanent, problem: "\(request.method) \(request.displayURL) answered more than \(limit) bytes", fix: "check the endpoint")
            }
            body.append(contentsOf: bytes)
        }
        return (response, body)
    }

    private func upload(length: Int, context: Unmanaged<Exchange>) throws {
        try set(CURLOPT_UPLOAD, 1)
        try check(wv_curl_setopt_offset(curl.setopt, handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(length)))
        try check(wv_curl_setopt_callback(curl.setopt, handle, CURLOPT_READFUNCTION, readCallback))
        try check(wv_curl_setopt_pointer(curl.setopt, handle, CURLOPT_READDATA, context.toOpaque()))
        try check(wv_curl_setopt_seek(curl.setopt, handle, CURLOPT_SEEKFUNCTION, seekCallback))
        try check(wv_curl_setopt_pointer(curl.setopt, handle, CURLOPT_SEEKDATA, context.toOpaque()))
    }

    /// Sends one e-mail through libcurl's SMTP support (`smtp://` with STARTTLS, required except
    /// on loopback; `smtps://` with TLS from the start). `displayURL` names the server in errors;
    /// the password is handed to libcurl only.
    public func sendMail(
        url: String, displayURL: String, from: String, to recipients: [String], user: String?, password: SecretBytesView?,
        message: [UInt8], timeoutSeconds: Int = 30
    ) throws {
        try reset()
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl.slistFreeAll(list) }
        for recipient in recipients { list = curl.slistAppend(list, "<\(recipient)>") }
        let exchange = Exchange(sink: { _ in })
        exchange.reading(message)
        let context = Unmanaged.passRetained(exchange)
        defer { context.release() }
        try set(CURLOPT_URL, url)
        try set(CURLOPT_PROTOCOLS_STR, "smtp,smtps")
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_CONNECTTIMEOUT, 10)
        try set(CURLOPT_TIMEOUT, timeoutSeconds)
        let host = url.split(separator: "/").dropFirst().first.map { String($0.split(separator: ":").first ?? "") } ?? ""
        let loopback = host == "127.0.0.1" || host == "localhost" || host == "[::1]"
        try set(CURLOPT_USE_SSL, Int((loopback ? CURLUSESSL_TRY : CURLUSESSL_ALL).rawValue))
        try set(CURLOPT_MAIL_FROM, "<\(from)>")
        try check(wv_curl_setopt_pointer(curl.setopt, handle, CURLOPT_MAIL_RCPT, UnsafeMutableRawPointer(list)))
        if let user { try set(CURLOPT_USERNAME, user) }
        if let password {
            try password.withCString { try check(wv_curl_setopt_string(curl.setopt, handle, CURLOPT_PASSWORD, $0)) }
        }
        defer {
            _ = wv_curl_setopt_pointer(curl.setopt, handle, CURLOPT_PASSWORD, nil)
            _ = wv_curl_setopt_pointer(curl.setopt, handle, CURLOPT_USERNAME, nil)
            _ = wv_curl_setopt_pointer(curl.setopt, handle, CURLOPT_MAIL_RCPT, nil)
        }
        try upload(length: message.count, context: context)
        let code = curl.easyPerform(handle)
        if let error = exchange.error { throw error }
        guard code == CURLE_OK else {
            let reason = curl.easyStrerror(code).map { String(cString: $0) } ?? "error \(code.rawValue)"
            throw HTTPError(
                kind: Self.isTransient(code) ? .transient : .permanent, problem: "sending mail through \(displayURL) failed: \(reason)",
                fix: code == CURLE_LOGIN_DENIED
                    ? "check smtp_user_env and smtp_password_env" : "check smtp_url and that the server accepts the sender and recipient")
        }
    }

    /// Every option back to its default, so one handle (and its connection) serves many requests.
    private func reset() throws {
        for option in [CURLOPT_UPLOAD, CURLOPT_NOBODY] { try set(option, 0) }
        try check(wv_curl_setopt_pointer(curl.setopt, handle, CURLOPT_CUSTOMREQUEST, nil))
        try check(wv_curl_setopt_pointer(curl.setopt, handle, CURLOPT_MIMEPOST, nil))
        try set(CURLOPT_HTTPGET, 1)
    }

    private func set(_ option: CURLoption, _ value: Int) throws {
        try check(wv_curl_setopt_long(curl.setopt, handle, option, value))
    }

    private func set(_ option: CURLoption, _ value: String) throws {
        try check(wv_curl_setopt_string(curl.setopt, handle, option, value))
    }

    private func check(_ code: CURLcode) throws {
        guard code == CURLE_OK else {
            let reason = curl.easyStrerror(code).map { String(cString: $0) } ?? "error \(code.rawValue)"
            throw HTTPError(kind: .permanent, problem: "libcurl refused an option: \(reason)", fix: "install libcurl4 7.88 or later")
        }
    }

    /// Failures that a later attempt may not meet: the connection, not the request, went wrong.
    static func isTransient(_ code: CURLcode) -> Bool {
        [
            CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR, CURLE_RECV_ERROR,
            CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_SEND_FAIL_REWIND, CURLE_SSL_CONNECT_ERROR, CURLE_HTTP2, CURLE_HTTP2_STREAM
        ].contains(code)
    }
}

/// What the C callbacks reach through their userdata pointer.
final class Exchange {
    let sink: (UnsafeRawBufferPointer) throws -> Void
    var read: ((UnsafeMutableRawBufferPointer) throws -> Int)?
    var rewind: (() throws -> Void)?
    var headers: [(String, String)] = []
    var error: Error?

    init(sink: @escaping (UnsafeRawBufferPointer) throws -> Void) { self.sink = sink }

    /// An upload of `bytes` from memory, which libcurl may start again.
    func reading(_ bytes: [UInt8]) {
        var offset = 0
        read = { buffer in
            let n = min(buffer.count, bytes.count - offset)
            bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
            offset += n
            return n
        }
        rewind = { offset = 0 }
    }
}

private let writeCallback: wv_curl_data_callback = { data, size, count, userdata in
    let exchange = Unmanaged<Exchange>.fromOpaque(userdata!).takeUnretainedValue()
    let total = size * count
    do {
        try exchange.sink(UnsafeRawBufferPointer(start: data, count: total))
        return total
    } catch {
        exchange.error = error
        return 0
    }
}

private let readCallback: wv_curl_data_callback = { data, size, count, userdata in
    let exchange = Unmanaged<Exchange>.fromOpaque(userdata!).takeUnretainedValue()
    do {
        return try exchange.read?(UnsafeMutableRawBufferPointer(start: data, count: size * count)) ?? 0
    } catch {
        exchange.error = error
        return Int(CURL_READFUNC_ABORT)
    }
}

/// A form file's bytes, read by libcurl as it sends them (and again from 0 if it resends): from
/// memory, or through `readAt` from a file.
final class FormFileSource {
    let length: Int
    let readAt: (Int, UnsafeMutableRawBufferPointer) throws -> Int
    var offset = 0
    var error: Error?

    init(bytes: [UInt8]) {
        length = bytes.count
        readAt = { offset, buffer in
            let n = min(buffer.count, bytes.count - offset)
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
            return n
        }
    }

    init(length: Int, readAt: @escaping (Int, UnsafeMutableRawBufferPointer) throws -> Int) {
        self.length = length
        self.readAt = readAt
    }
}

private let formReadCallback: wv_curl_data_callback = { buffer, size, count, userdata in
    let source = Unmanaged<FormFileSource>.fromOpaque(userdata!).takeUnretainedValue()
    let n = min(size * count, source.length - source.offset)
    guard n > 0 else { return 0 }
    do {
        let got = try source.readAt(source.offset, UnsafeMutableRawBufferPointer(start: buffer, count: n))
        guard got > 0 else { return Int(CURL_READFUNC_ABORT) }
        source.offset += got
        return got
    } catch {
        source.error = error
        return Int(CURL_READFUNC_ABORT)
    }
}

private let formSeekCallback: wv_curl_seek_callback = { userdata, offset, origin in
    let source = Unmanaged<FormFileSource>.fromOpaque(userdata!).takeUnretainedValue()
    guard origin == SEEK_SET, offset >= 0, Int(offset) <= source.length else { return 2 }
    source.offset = Int(offset)
    return 0
}

/// libcurl only ever asks to go back to the start (offset 0, SEEK_SET) before resending.
private let seekCallback: wv_curl_seek_callback = { userdata, offset, origin in
    let exchange = Unmanaged<Exchange>.fromOpaque(userdata!).takeUnretainedValue()
    guard offset == 0, origin == SEEK_SET, let rewind = exchange.rewind else { return 2 }  // CURL_SEEKFUNC_CANTSEEK
    do {
        try rewind()
        return 0  // CURL_SEEKFUNC_OK
    } catch {
        exchange.error = error
        return 1  // CURL_SEEKFUNC_FAIL
    }
}

private let headerCallback: wv_curl_data_callback = { data, size, count, userdata in
    let exchange = Unmanaged<Exchange>.fromOpaque(userdata!).takeUnretainedValue()
    let total = size * count
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: total), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        exchange.headers = []  // a new response (after a 100 Continue, or a retry)
    } else if let colon = line.firstIndex(of: ":") {
        let name = String(line[..<colon])
        // "\r\n" is one Character in Swift, so trim by Character properties, not by "\r".
        var value = Substring(line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" })
        while let last = value.last, last.isNewline || last == " " || last == "\t" { value.removeLast() }
        exchange.headers.append((name, String(value)))
    }
    return total
}
