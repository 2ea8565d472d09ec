#if canImport(Glibc)
import Glibc
#endif
import WalvaultPipeline
import WalvaultSystem

/// Holds at most one part in memory. The key is known only at commit (names carry the checksum
/// of what was written), and S3 fixes an upload's key when it starts, so: an object that fits in
/// one part is one conditional PUT at commit; a larger one spills to an unnamed temporary file
/// (O_TMPFILE: nothing to clean up after a crash) and goes up at commit as a multipart upload,
/// which appears whole when completed and is aborted on any failure.
final class S3ObjectWriter: ObjectWriter {
    private let store: S3Store
    private let directory: String
    private var buffer: [UInt8] = []
    private var spill: FileDescriptor?
    private var spilled = 0
    private var open = true

    init(store: S3Store, directory: String) {
        self.store = store
        self.directory = directory
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard open else { throw closed("write") }
        var rest = bytes
        while !rest.isEmpty {
            if buffer.count == store.partSize { try spillBuffer() }
            let n = min(rest.count, store.partSize - buffer.count)
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<n]))
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    private func spillBuffer() throws {
        do {
            if spill == nil {
                // O_TMPFILE | O_RDWR: a file with no name, gone when closed or when the process dies.
                spill = try FileDescriptor.open(store.spillDirectory, flags: O_RDWR | 0o20200000, mode: 0o600)
            }
            try spill!.writeAll(buffer)
        } catch let error as SystemError {
            throw StoreError(store: store.name, kind: .permanent, problem: "cannot stage a large upload in \(store.spillDirectory): \(error.reason)",
                             fix: "free space there, or point TMPDIR at a directory with room for one object")
        }
        spilled += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    func commit(name: String) throws -> CommitOutcome {
        guard open else { throw closed("commit") }
        open = false
        defer {
            buffer = []
            spill = nil
        }
        let objectKey = store.addressing.objectKey(directory.isEmpty ? name : directory + "/" + name)
        guard let spill else { return try store.put(objectKey: objectKey, bytes: buffer) }
        if store.conditionalCreate != .ifNoneMatch, let existing = try store.head(key: store.storeKey(objectKey)) {
            return .alreadyPresent([existing])
        }
        let total = spilled + buffer.count
        let upload = try MultipartUpload(store: store, objectKey: objectKey)
        do {
            var part = [UInt8](repeating: 0, count: store.partSize)
            var offset = 0
            while offset < spilled {
                let n = try part.withUnsafeMutableBytes { out in
                    try spill.pread(into: UnsafeMutableRawBufferPointer(rebasing: out[0..<min(store.partSize, spilled - offset)]), at: offset)
                }
                guard n > 0 else { throw StoreError(store: store.name, kind: .permanent, problem: "the staged upload ended early", fix: "check \(store.spillDirectory)") }
                try upload.send(part: n == part.count ? part : Array(part[0..<n]))
                offset += n
            }
            if !buffer.isEmpty { try upload.send(part: buffer) }
            return try upload.complete(size: total)
        } catch {
            upload.abort()
            throw error
        }
    }

    func abort() {
        open = false
        buffer = []
        spill = nil
    }

    private func closed(_ what: String) -> StoreError {
        StoreError(store: store.name, kind: .permanent, problem: "cannot \(what): the object was already committed or aborted", fix: "")
    }
}

/// One multipart upload: initiated, parts sent (each retried: its bytes are in memory), then
/// completed with the list of parts, conditionally where the service can; aborted otherwise.
final class MultipartUpload {
    private let store: S3Store
    private let objectKey: String
    private let uploadID: String
    private var etags: [String] = []

    init(store: S3Store, objectKey: String) throws {
        self.store = store
        self.objectKey = objectKey
        let answer = try store.retrying { try store.send("POST", objectKey: objectKey, query: [("uploads", "")], body: []) }
        guard answer.status == 200 else { throw store.failure("starting an upload of", objectKey, answer) }
        let root = try store.parse(answer.body, what: "the answer starting an upload of \(store.addressing.display(objectKey))")
        guard root.name == "InitiateMultipartUploadResult", let id = root.value("UploadId"), !id.isEmpty else {
            throw store.unexpected("the answer starting an upload", root)
        }
        uploadID = id
    }

    func send(part bytes: [UInt8]) throws {
        let number = etags.count + 1
        let md5 = bytes.withUnsafeBytes { MD5Digest.base64(of: $0) }
        let answer = try store.retrying {
            try store.send("PUT", objectKey: objectKey, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                           headers: [("content-md5", md5), ("content-length", String(bytes.count))], body: bytes)
        }
        guard answer.status == 200, let etag = answer.response.header("ETag") else { throw store.failure("uploading part \(number) of", objectKey, answer) }
        etags.append(etag)
    }

    func complete(size: Int) throws -> CommitOutcome {
        var xml = "<CompleteMultipartUpload>"
        for (index, etag) in etags.enumerated() {
            xml += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\(Self.escaped(etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let body = Array(xml.utf8)
        var headers: [(String, String)] = [("content-type", "application/xml")]
        if store.conditionalCreate == .ifNoneMatch { headers.append(("if-none-match", "*")) }
        let answer = try store.retrying { try store.send("POST", objectKey: objectKey, query: [("uploadId", uploadID)], headers: headers, body: body) }
        switch answer.status {
        case 200:
            // A 200 may still carry an <Error> body when the service failed while completing.
            let root = try store.parse(answer.body, what: "the answer completing \(store.addressing.display(objectKey))")
            // (AWS names the root CompleteMultipartUploadResult, moto …Response: only <Error> matters.)
            if root.name == "Error" {
                throw S3Failure.error(store: store.name, action: "completing the upload of", object: store.addressing.display(objectKey),
                                      status: 500, body: answer.body, bucket: store.addressing.bucket)
            }
            return .stored(try store.verifyStored(objectKey: objectKey, size: size))
        case 412:
            abort()
            guard let existing = try store.head(key: store.storeKey(objectKey)) else { throw store.failure("completing the upload of", objectKey, answer) }
            return .alreadyPresent([existing])
        default:
            throw store.failure("completing the upload of", objectKey, answer)
        }
    }

    /// Best effort, retried: an upload left behind is invisible but billed until a lifecycle rule
    /// removes it.
    func abort() {
        _ = try? store.retrying { try store.send("DELETE", objectKey: objectKey, query: [("uploadId", uploadID)]) }
    }

    /// ETags are quoted hex, but are echoed from the service: escaped, not trusted.
    static func escaped(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }
}
