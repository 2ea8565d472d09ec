/// Reads an object in ranged GETs of `readWindow` bytes, so memory stays bounded whatever the
/// object's size and a dropped connection costs one window, retried, not the whole object. Every
/// window after the first is asked with `If-Match` on the first one's ETag: an object replaced
/// while it is read is an error, never a splice of two versions.
final class S3ObjectReader: ObjectReader {
    private let store: S3Store
    private let objectKey: String
    private var window: [UInt8] = []
    private var position = 0
    /// Offset in the object of the next window to fetch.
    private var nextOffset = 0
    private var total = 0
    private var etag: String?

    init(store: S3Store, key: String) throws {
        self.store = store
        objectKey = store.addressing.objectKey(key)
        // The first window is fetched once here: `RetryingStore` repeats openReader as a whole.
        try fetch()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if position == window.count {
            guard nextOffset < total else { return 0 }
            try store.retrying { try fetch() }
        }
        let n = min(buffer.count, window.count - position)
        window.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[position..<position + n])) }
        position += n
        return n
    }

    private func fetch() throws {
        let last = nextOffset + store.readWindow - 1
        var headers = [("range", "bytes=\(nextOffset)-\(last)")]
        if let etag { headers.append(("if-match", etag)) }
        let answer = try store.send("GET", objectKey: objectKey, headers: headers, limit: store.readWindow + (64 << 10))
        let display = store.addressing.display(objectKey)
        switch answer.status {
        case 206:
            guard let range = answer.response.header("Content-Range"), let slash = range.lastIndex(of: "/"),
                let size = Int(range[range.index(after: slash)...]), answer.body.count == min(store.readWindow, size - nextOffset)
            else {
                throw StoreError(
                    store: store.name, kind: .transient, problem: "GET \(display) answered a range that does not fit",
                    fix: "the service or a proxy cut the answer (walvault retried it); try again later")
            }
            total = size
        case 200 where nextOffset == 0:
            // The whole object: a service that ignores Range, for an object smaller than the window.
            total = answer.body.count
        case 416 where nextOffset == 0:
            total = 0  // an empty object has no byte 0
            etag = nil
            window = []
            return
        case 412:
            throw StoreError(
                store: store.name, kind: .permanent, problem: "\(display) was replaced while it was being read",
                fix: "something else writes under walvault's keys; read it again, and check who writes to this bucket")
        default:
            throw store.failure("GET", objectKey, answer)
        }
        if etag == nil { etag = answer.response.header("ETag") }
        window = answer.body
        position = 0
        nextOffset += window.count
    }
}
