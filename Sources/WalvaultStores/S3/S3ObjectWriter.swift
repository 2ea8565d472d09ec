import WalvaultPipeline
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Holds at most `memoryLimit` bytes in memory. The key is known only at commit (names carry the
/// checksum of what was written), and S3 fixes an upload's key when it starts, so: an object
/// that fits in memory is one conditional PUT at commit; a larger one spills to an unnamed
/// temporary file (O_TMPFILE: nothing to clean up after a crash) and goes up at commit from that
/// file, as one PUT when it fits in a part, else as a multipart upload, which appears whole when
/// completed and is aborted on any failure.
final class S3ObjectWriter: ObjectWriter {
    private let store: S3Store
    private let directory: String
    private var buffer: [UInt8] = []
    private var spill: FileDescriptor?
    private var spilled = 0
    private var open = true
    /// 8 MiB: a compressed 16 MiB WAL segment usually fits (one PUT straight from memory), and an
    /// export of any size keeps the process far under 64 MiB.
    private var memoryLimit: Int { min(store.partSize, 8 << 20) }

    init(store: S3Store, directory: String) {
        self.store = store
        self.directory = directory
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard open else { throw closed("write") }
        var rest = bytes
        while !rest.isEmpty {
            if buffer.count == memoryLimit { try spillBuffer() }
            let n = min(rest.count, memoryLimit - buffer.count)
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<n]))
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    private func spillBuffer() throws {
        do {
            if spill == nil {
                spill = try FileDescriptor.openUnnamed(in: store.spillDirectory)
            }
            try spill!.writeAll(buffer)
        } catch let error as SystemError {
            throw StoreError(
                store: store.name, kind: .permanent, problem: "cannot stage a large upload in \(store.spillDirectory): \(error.reason)",
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
        // The tail goes to the file too, and every part is sent from the file: no part is held in
        // memory (an export of any size stays well under 64 MiB), and a retry reads it again.
        if !buffer.isEmpty { try spillBuffer() }
        buffer = []
        let total = spilled
        if total <= store.partSize {
            let (md5, sha) = try MultipartUpload.digests(of: spill, offset: 0, length: total, store: store)
            return try store.put(objectKey: objectKey, region: .init(file: spill, offset: 0, length: total, sha256: sha), md5: md5)
        }
        let upload = try MultipartUpload(store: store, objectKey: objectKey)
        do {
            var offset = 0
            while offset < total {
                let length = min(store.partSize, total - offset)
                try upload.send(partOf: spill, offset: offset, length: length)
                offset += length
            }
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

/// One multipart upload: initiated, parts sent from the staging file (each retried: it reads them again), then
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

    /// A part read from the staging file: hashed (MD5 for Content-MD5, SHA-256 for the signature)
    /// in one pass of 1 MiB reads, then streamed by curl from the same region.
    func send(partOf file: FileDescriptor, offset: Int, length: Int) throws {
        let number = etags.count + 1
        let (digest, sha) = try Self.digests(of: file, offset: offset, length: length, store: store)
        let region = S3Store.FileRegionBody(file: file, offset: offset, length: length, sha256: sha)
        let answer = try store.retrying {
            try store.send(
                "PUT", objectKey: objectKey, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                headers: [("content-md5", digest), ("content-length", String(length))], region: region)
        }
        guard answer.status == 200, let etag = answer.response.header("ETag") else {
            throw store.failure("uploading part \(number) of", objectKey, answer)
        }
        etags.append(etag)
    }

    /// Content-MD5 (base64) and the SHA-256 (hex) the signature covers, of a file region, in 1 MiB reads.
    static func digests(of file: FileDescriptor, offset: Int, length: Int, store: S3Store) throws -> (md5: String, sha256: String) {
        let md5 = MD5Hasher()
        let sha = SHA256Hasher()
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { chunk.deallocate() }
        var done = 0
        while done < length {
            let n = try file.pread(into: UnsafeMutableRawBufferPointer(rebasing: chunk[0..<min(chunk.count, length - done)]), at: offset + done)
            guard n > 0 else {
                throw StoreError(store: store.name, kind: .permanent, problem: "the staged upload ended early", fix: "check \(store.spillDirectory)")
            }
            md5.update(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            sha.update(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            done += n
        }
        return (md5.finalizeBase64(), sha.finalizeHex())
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
        let answer = try store.retrying {
            try store.send("POST", objectKey: objectKey, query: [("uploadId", uploadID)], headers: headers, body: body)
        }
        switch answer.status {
        case 200:
            // A 200 may still carry an <Error> body when the service failed while completing.
            let root = try store.parse(answer.body, what: "the answer completing \(store.addressing.display(objectKey))")
            // (AWS names the root CompleteMultipartUploadResult, moto …Response: only <Error> matters.)
            if root.name == "Error" {
                throw S3Failure.error(
                    store: store.name, action: "completing the upload of", object: store.addressing.display(objectKey),
                    status: 500, body: answer.body, bucket: store.addressing.bucket)
            }
            return .stored(try store.verifyStored(objectKey: objectKey, size: size))
        case 412:
            abort()
            guard let existing = try store.head(key: store.storeKey(objectKey)) else {
                throw store.failure("completing the upload of", objectKey, answer)
            }
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
