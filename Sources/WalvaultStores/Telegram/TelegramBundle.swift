import WalvaultPipeline
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The document being filled: objects' bytes appended one after another into an unnamed
/// temporary file (O_TMPFILE: nothing left after a crash), sent when it reaches the part size or
/// at the next flush.
final class OpenBundle {
    let serial: Int
    let file: FileDescriptor
    private(set) var size = 0
    /// The forum topic it goes into; nil for the chat itself. Changed only when that topic was
    /// deleted under walvault, and the bundle goes into a new one instead.
    var topic: Int?

    init(directory: String, serial: Int, store: String, topic: Int?) throws {
        self.serial = serial
        self.topic = topic
        do {
            try FileSystem.makeDirectories(directory, mode: 0o700)
            file = try FileDescriptor.openUnnamed(in: directory)
        } catch let error as SystemError {
            throw StoreError(
                store: store, kind: .permanent, problem: "cannot stage a Telegram document in \(directory): \(error.reason)",
                fix: "free space there (one document, part_size_mb, is staged at a time)")
        }
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        try file.writeAll(bytes)
        size += bytes.count
    }

    func sha256(_ range: Range<Int>) throws -> String {
        let hasher = SHA256Hasher()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset = range.lowerBound
        while offset < range.upperBound {
            let n = try buffer.withUnsafeMutableBytes {
                try file.pread(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<min($0.count, range.upperBound - offset)]), at: offset)
            }
            guard n > 0 else { throw SystemError("read", path: "a staged Telegram document", code: EIO) }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            offset += n
        }
        return hasher.finalizeHex()
    }

    func close() { try? file.close() }
}

/// Where a sent bundle's bytes went: one document, or several when the server made walvault
/// send it in smaller pieces (413).
struct BundlePlacement {
    /// (offset in the bundle, the document that starts there), in order.
    var pieces: [(Int, TelegramCatalog.Document)]

    /// An extent of the bundle as extents of the documents it landed in.
    func map(_ extent: TelegramCatalog.Extent) -> [TelegramCatalog.Extent] {
        var result: [TelegramCatalog.Extent] = []
        for (start, document) in pieces {
            let end = start + document.size
            let from = max(start, extent.offset), to = min(end, extent.offset + extent.length)
            if from < to { result.append(TelegramCatalog.Extent(message: document.message, offset: from - start, length: to - from)) }
        }
        return result
    }
}
