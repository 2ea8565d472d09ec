import Synchronization
import WalvaultHTTP
import WalvaultPipeline
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A bucket (and a prefix in it) of any S3-compatible service: AWS S3, Backblaze B2's S3 API,
/// Google Cloud Storage's XML API with HMAC keys, MinIO. Requests go through libcurl, signed with
/// SigV4 over the real payload hash; answers are parsed with libxml2. Nothing half-written is
/// ever visible: an object is one PUT, or a multipart upload that appears at its completion.
public final class S3Store: Store {
    /// How "create unless it exists" is asked of the service.
    public enum ConditionalCreate: Sendable, Equatable {
        /// `If-None-Match: *`: AWS S3 (since 2024), MinIO, moto.
        case ifNoneMatch
        /// `x-goog-if-generation-match: 0`: Google Cloud Storage's XML API.
        case googleGeneration
        /// Not offered (Backblaze B2 answers NotImplemented): look, then put. Two writers racing for
        /// one name may both think they won; the repository's placement settles it afterwards.
        case lookThenPut
    }

    public let name: String
    public let addressing: S3Addressing
    public let maxObjectSize: Int? = nil
    /// Objects up to this size go up in one PUT; larger ones as multipart uploads in parts of this
    /// size, which is also the most a writer holds in memory. S3 and B2 take parts of 5 MiB or more.
    public let partSize: Int
    /// Bytes per ranged GET: the most a reader holds in memory.
    public let readWindow: Int
    /// Keys per listing page (S3 answers at most 1,000).
    public let pageSize: Int
    /// Where objects larger than a part are staged (unnamed) before their multipart upload.
    public let spillDirectory: String
    let signer: SigV4
    let policy: RetryingStore.Policy
    private let conditional: Mutex<ConditionalCreate>
    private let clients = Mutex<[HTTPClient]>([])
    /// Set by the first answer that proves the bucket exists, so that a 404 to a HEAD (which has
    /// no body to say why) is checked against the bucket once, not every time.
    private let bucketSeen = Atomic<Bool>(false)

    public static let minimumPartSize = 5 << 20

    public init(
        name: String, endpoint: String, region: String, bucket: String, prefix: String, pathStyle: Bool,
        accessKeyID: String, secret: SecretBytes, partSize: Int = 16 << 20, readWindow: Int = 8 << 20, pageSize: Int = 1000,
        spillDirectory: String = Environment.temporaryDirectory, policy: RetryingStore.Policy = RetryingStore.Policy(),
        conditionalCreate: ConditionalCreate? = nil
    ) {
        self.name = name
        addressing = S3Addressing(endpoint: endpoint, bucket: bucket, prefix: prefix, pathStyle: pathStyle)
        signer = SigV4(accessKeyID: accessKeyID, secret: secret, region: region)
        self.partSize = partSize
        self.readWindow = readWindow
        self.pageSize = pageSize
        self.spillDirectory = spillDirectory
        self.policy = policy
        let host = addressing.endpointHost
        conditional = Mutex(
            conditionalCreate
                ?? (host.hasSuffix("storage.googleapis.com")
                    ? .googleGeneration
                    : host.contains("backblazeb2.com") ? .lookThenPut : .ifNoneMatch))
    }

    public var capabilities: StoreCapabilities {
        conditional.withLock { $0 } == .lookThenPut ? [.listing, .deletion] : [.listing, .deletion, .atomicConditionalCreate]
    }

    public var location: String { addressing.display(addressing.prefix.isEmpty ? nil : addressing.prefix) }

    var conditionalCreate: ConditionalCreate { conditional.withLock { $0 } }

    // MARK: Requests

    struct Answer {
        let status: Int
        let response: HTTPResponse
        let body: [UInt8]
        /// Parsed once, here, for any status other than 2xx.
        let error: S3Failure.ErrorBody

        init(status: Int, response: HTTPResponse, body: [UInt8]) {
            self.status = status
            self.response = response
            self.body = body
            error = (200...299).contains(status) ? S3Failure.ErrorBody([]) : S3Failure.ErrorBody(body)
        }

        var errorCode: String? { error.code }
    }

    /// One signed request. Answers that are worth another try (5xx, 429, SlowDown) and connection
    /// failures throw a `.transient` StoreError, so `retrying` and `RetryingStore` repeat them;
    /// every other answer is returned, whatever its status, for the caller to judge.
    /// A body read from a file region as curl sends it, instead of held in memory; its SHA-256
    /// (which the signature covers) is computed beforehand.
    struct FileRegionBody {
        let file: FileDescriptor
        let offset: Int
        let length: Int
        let sha256: String
    }

    func send(
        _ method: String, objectKey: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
        body: [UInt8]? = nil, region: FileRegionBody? = nil, limit: Int = 1 << 20
    ) throws -> Answer {
        let target = addressing.target(objectKey: objectKey, query: query)
        let payloadHash = region?.sha256 ?? body.map { SHA256Hasher.hex(of: $0) } ?? SigV4.emptyPayloadSHA256
        let timestamp = SigV4.timestamp(WallClock.nowMicros())
        var signed: [(String, String)] = [("host", target.host), ("x-amz-date", timestamp), ("x-amz-content-sha256", payloadHash)]
        signed += headers.map { ($0.0.lowercased(), $0.1) }
        let signature = signer.sign(method: method, path: target.path, query: query, headers: signed, payloadHash: payloadHash, timestamp: timestamp)
        var request = HTTPRequest(
            method: method, url: target.url, displayURL: addressing.display(objectKey),
            headers: signed + [("Authorization", signature.authorization)], body: body.map { .bytes($0) } ?? .none)
        if let region {
            var position = 0
            request.body = .stream(
                length: region.length,
                read: { buffer in
                    let n = try region.file.pread(
                        into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(buffer.count, region.length - position)]),
                        at: region.offset + position)
                    position += n
                    return n
                }, rewind: { position = 0 })
        }
        request.stallTimeoutSeconds = 60
        let client = try takeClient()
        do {
            let (response, received) = try client.perform(request, limit: limit)
            giveBack(client)
            if (200...299).contains(response.status) { bucketSeen.store(true, ordering: .relaxed) }
            let answer = Answer(status: response.status, response: response, body: received)
            if response.status >= 300, S3Failure.kind(status: response.status, code: answer.errorCode) == .transient {
                throw failure(method, objectKey, answer)
            }
            return answer
        } catch let error as HTTPError {
            // The handle may hold a broken connection: let it go.
            if error.hostNotFound, !addressing.pathStyle {
                // Virtual-hosted addressing asks DNS for <bucket>.<endpoint>: an IP address or a
                // self-hosted server (MinIO) has no such name.
                throw StoreError(
                    store: name, kind: .transient, problem: error.problem,
                    fix:
                        "if \(addressing.endpointHost) is an IP address or a self-hosted server such as MinIO, set path_style = true; otherwise check the endpoint and the network"
                )
            }
            throw S3Failure.error(store: name, error)
        }
    }

    func failure(_ action: String, _ objectKey: String?, _ answer: Answer) -> StoreError {
        S3Failure.error(
            store: name, action: action, object: addressing.display(objectKey), status: answer.status, parsed: answer.error,
            bucket: addressing.bucket)
    }

    private func takeClient() throws -> HTTPClient {
        if let client = clients.withLock({ $0.popLast() }) { return client }
        do { return try HTTPClient() } catch let error as HTTPError { throw S3Failure.error(store: name, error) }
    }

    private func giveBack(_ client: HTTPClient) {
        clients.withLock { if $0.count < 16 { $0.append(client) } }
    }

    /// Repeats `body` on transient failures, for the steps of a write whose bytes are in memory.
    func retrying<T>(_ body: () throws -> T) throws -> T { try policy.run(body) }

    // MARK: Store

    public func head(key: String) throws -> StoreObject? {
        let objectKey = addressing.objectKey(key)
        let answer = try send("HEAD", objectKey: objectKey)
        switch answer.status {
        case 200:
            guard let length = answer.response.header("Content-Length").flatMap({ Int($0) }) else {
                throw StoreError(
                    store: name, kind: .permanent, problem: "HEAD \(addressing.display(objectKey)) answered without a size",
                    fix: "check that the endpoint is an S3-compatible service")
            }
            return StoreObject(key: key, size: length, modifiedAt: answer.response.header("Last-Modified").flatMap(S3Time.httpDate))
        case 404:
            // A HEAD has no body: tell a missing bucket from a missing key by asking the bucket.
            if !bucketSeen.load(ordering: .relaxed), let bucketProblem = try bucketProblem() { throw bucketProblem }
            return nil
        default:
            throw failure("HEAD", objectKey, answer)
        }
    }

    /// The error a request on the bucket itself gets, when there is one (no such bucket, denied).
    func bucketProblem() throws -> StoreError? {
        let answer = try send("GET", objectKey: nil, query: [("list-type", "2"), ("max-keys", "1"), ("prefix", addressing.objectKey(""))])
        return answer.status == 200 ? nil : failure("LIST", nil, answer)
    }

    public func openReader(key: String) throws -> ObjectReader {
        try S3ObjectReader(store: self, key: key)
    }

    public func readSmall(key: String) throws -> [UInt8]? {
        let objectKey = addressing.objectKey(key)
        let answer = try send("GET", objectKey: objectKey, limit: 64 << 20)
        switch answer.status {
        case 200: return answer.body
        case 404 where S3Failure.kind(status: 404, code: answer.errorCode) == .notFound: return nil
        default: throw failure("GET", objectKey, answer)
        }
    }

    /// Not retried here: `RetryingStore` repeats createSmall as a whole (a writer's commit is not
    /// repeated above, so `put` retries for it).
    public func createSmall(key: String, contents: [UInt8]) throws -> Bool {
        switch try put(objectKey: addressing.objectKey(key), bytes: contents, retryHere: false) {
        case .stored: return true
        case .alreadyPresent: return false
        }
    }

    public func delete(key: String) throws {
        let objectKey = addressing.objectKey(key)
        let answer = try send("DELETE", objectKey: objectKey)
        guard answer.status == 204 || answer.status == 200 || answer.status == 404 && answer.errorCode != "NoSuchBucket" else {
            throw failure("DELETE", objectKey, answer)
        }
    }

    public func makeWriter(directory: String) throws -> ObjectWriter {
        S3ObjectWriter(store: self, directory: directory)
    }

    public func list(directory: String, namePrefix: String) throws -> [StoreObject] {
        let base = addressing.objectKey(directory.isEmpty ? "" : directory + "/")
        return try listPages(prefix: base + namePrefix).objects.compactMap { object in
            guard let key = addressing.storeKey(object.key), !Paths.basename(key).hasPrefix(".") else { return nil }
            return StoreObject(key: key, size: object.size, modifiedAt: object.modifiedAt)
        }
    }

    public func listSubdirectories(directory: String) throws -> [String] {
        let base = addressing.objectKey(directory.isEmpty ? "" : directory + "/")
        return try listPages(prefix: base).prefixes.compactMap { prefix in
            let name = String(prefix.dropFirst(base.count).dropLast())
            return name.isEmpty || name.hasPrefix(".") || name.contains("/") ? nil : name
        }.sorted()
    }

    /// Every page of a ListObjectsV2 with "/" as delimiter: the objects directly under `prefix`
    /// (bucket keys) and the sub-prefixes.
    func listPages(prefix: String) throws -> (objects: [StoreObject], prefixes: [String]) {
        var objects: [StoreObject] = []
        var prefixes: [String] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("delimiter", "/"), ("max-keys", String(pageSize)), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let answer = try send("GET", objectKey: nil, query: query, limit: 16 << 20)
            guard answer.status == 200 else { throw failure("LIST", prefix, answer) }
            let root = try parse(answer.body, what: "the listing of \(addressing.display(prefix))")
            guard root.name == "ListBucketResult" else { throw unexpected("the listing of \(addressing.display(prefix))", root) }
            for entry in root.children("Contents") {
                guard let key = entry.value("Key"), let size = entry.value("Size").flatMap({ Int($0) }) else {
                    throw unexpected("the listing of \(addressing.display(prefix))", entry)
                }
                objects.append(StoreObject(key: key, size: size, modifiedAt: entry.value("LastModified").flatMap(S3Time.iso8601)))
            }
            prefixes += root.children("CommonPrefixes").compactMap { $0.value("Prefix") }
            token = root.value("IsTruncated") == "true" ? root.value("NextContinuationToken") : nil
            if root.value("IsTruncated") == "true" && (token ?? "").isEmpty {
                throw unexpected("the listing of \(addressing.display(prefix)) (truncated without a continuation token)", root)
            }
        } while token != nil
        return (objects, prefixes)
    }

    /// ListMultipartUploads under `directory`, then AbortMultipartUpload for each begun before
    /// `micros`: a writer killed half-way (kill -9 during a large object) never aborts its own.
    public func abortAbandonedUploads(under directory: String, begunBefore micros: Int64) throws -> Int {
        let prefix = addressing.objectKey(directory.isEmpty ? "" : directory + "/")
        var abandoned: [(key: String, id: String)] = []
        var keyMarker: String?
        var idMarker: String?
        repeat {
            var query = [("uploads", ""), ("prefix", prefix)]
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            if let idMarker { query.append(("upload-id-marker", idMarker)) }
            let answer = try send("GET", objectKey: nil, query: query, limit: 16 << 20)
            guard answer.status == 200 else { throw failure("LIST UPLOADS", prefix, answer) }
            let root = try parse(answer.body, what: "the multipart uploads under \(addressing.display(prefix))")
            guard root.name == "ListMultipartUploadsResult" else {
                throw unexpected("the multipart uploads under \(addressing.display(prefix))", root)
            }
            for upload in root.children("Upload") {
                guard let key = upload.value("Key"), let id = upload.value("UploadId") else {
                    throw unexpected("the multipart uploads under \(addressing.display(prefix))", upload)
                }
                if Self.isAbandoned(initiated: upload.value("Initiated"), before: micros) { abandoned.append((key, id)) }
            }
            let truncated = root.value("IsTruncated") == "true"
            keyMarker = truncated ? root.value("NextKeyMarker") : nil
            idMarker = truncated ? root.value("NextUploadIdMarker") : nil
            if truncated && (keyMarker ?? "").isEmpty {
                throw unexpected("the multipart uploads under \(addressing.display(prefix)) (truncated without a marker)", root)
            }
        } while keyMarker != nil
        for upload in abandoned {
            let answer = try retrying { try send("DELETE", objectKey: upload.key, query: [("uploadId", upload.id)]) }
            guard (200...299).contains(answer.status) || answer.status == 404 else { throw failure("ABORT UPLOAD", upload.key, answer) }
        }
        return abandoned.count
    }

    /// An upload begun before the cut-off; one whose start cannot be read is left alone (a
    /// writer may still be sending it).
    static func isAbandoned(initiated: String?, before micros: Int64) -> Bool {
        guard let begun = initiated.flatMap(S3Time.iso8601) else { return false }
        return begun < micros
    }

    func parse(_ body: [UInt8], what: String) throws -> XMLElement {
        do { return try XMLElement.parse(body, what: what) } catch let error as HTTPError { throw S3Failure.error(store: name, error) }
    }

    func unexpected(_ what: String, _ element: XMLElement) -> StoreError {
        StoreError(
            store: name, kind: .permanent, problem: "\(what) is not what S3 answers (unexpected \(element))",
            fix: "check that the endpoint is an S3-compatible service")
    }

    // MARK: Writing

    /// Stores `bytes` under `objectKey` unless something is there, in one PUT (retried: the bytes
    /// are in memory), then checks the size the service reports.
    func put(objectKey: String, bytes: [UInt8], retryHere: Bool = true) throws -> CommitOutcome {
        try put(objectKey: objectKey, bytes: bytes, region: nil, md5: bytes.withUnsafeBytes { MD5Digest.base64(of: $0) }, retryHere: retryHere)
    }

    /// The same PUT with the body read from a staging file (an object larger than the writer keeps
    /// in memory, but within one part).
    func put(objectKey: String, region: FileRegionBody, md5: String) throws -> CommitOutcome {
        try put(objectKey: objectKey, bytes: [], region: region, md5: md5, retryHere: true)
    }

    private func put(objectKey: String, bytes: [UInt8], region: FileRegionBody?, md5: String, retryHere: Bool) throws -> CommitOutcome {
        let size = region?.length ?? bytes.count
        while true {
            let style = conditionalCreate
            if style == .lookThenPut, let existing = try head(key: storeKey(objectKey)) { return .alreadyPresent([existing]) }
            var headers = [("content-md5", md5), ("content-length", String(size))]
            switch style {
            case .ifNoneMatch: headers.append(("if-none-match", "*"))
            case .googleGeneration: headers.append(("x-goog-if-generation-match", "0"))
            case .lookThenPut: break
            }
            let upload = { try self.send("PUT", objectKey: objectKey, headers: headers, body: region == nil ? bytes : nil, region: region) }
            let answer = retryHere ? try retrying(upload) : try upload()
            switch answer.status {
            case 200:
                return .stored(try verifyStored(objectKey: objectKey, size: size, retryHere: retryHere))
            case 412:
                // Present already; or our own first attempt landed and its answer was lost.
                guard let existing = try head(key: storeKey(objectKey)) else { continue }
                return .alreadyPresent([existing])
            case 501 where style != .lookThenPut:
                conditional.withLock { $0 = .lookThenPut }
                continue
            default:
                throw failure("PUT", objectKey, answer)
            }
        }
    }

    func verifyStored(objectKey: String, size: Int, retryHere: Bool = true) throws -> StoreObject {
        let key = storeKey(objectKey)
        guard let object = retryHere ? try retrying({ try head(key: key) }) : try head(key: key) else {
            throw StoreError(
                store: name, kind: .transient, problem: "\(addressing.display(objectKey)) is missing right after it was stored",
                fix: "the service lost or hid the write (walvault retried it); try again later")
        }
        guard object.size == size else {
            throw StoreError(
                store: name, kind: .permanent, problem: "\(addressing.display(objectKey)) holds \(object.size) bytes after storing \(size)",
                fix: "the service damaged the upload; check it, walvault will not count this copy")
        }
        return object
    }

    func storeKey(_ objectKey: String) -> String { addressing.storeKey(objectKey) ?? objectKey }
}
