/// Who hashes which bytes of one restored file, when its pieces are written by several threads in
/// any order. SHA-256 must see the file front to back, and each byte once: the thread whose piece
/// starts where the hash stands hashes while it writes; a piece that arrives early is only
/// written, and whoever holds the hash next reads it back (from the page cache, moments after it
/// was written) in order. No I/O and no lock here: the caller holds one around every call, so
/// each transition can be tested on its own.
public struct InOrderHashing: Equatable, Sendable {
    /// The file's length: the hash is final when it reaches it.
    public let size: Int
    /// Bytes before this offset are in the hash.
    public private(set) var hashedUpTo = 0
    /// One thread holds the hash at a time; the others only write.
    public private(set) var held = false
    /// Written but not yet hashed: offset → length.
    public private(set) var waiting: [Int: Int] = [:]
    public private(set) var finished = false

    public init(size: Int) { self.size = size }

    public enum Start: Equatable, Sendable {
        /// The caller now holds the hash: it hashes the piece as it writes it, then calls `hashed`.
        case hashWhileWriting
        /// Write only, then call `written`.
        case writeOnly
    }

    public mutating func start(offset: Int) -> Start {
        guard !held, !finished, offset == hashedUpTo else { return .writeOnly }
        held = true
        return .hashWhileWriting
    }

    /// The holder hashed `length` more bytes (while writing, or read back).
    public mutating func hashed(length: Int) {
        precondition(held, "only the holder of the hash advances it")
        hashedUpTo += length
    }

    /// A write-only piece is on disk. True: the caller took the hash and must call `next` until
    /// it says release or finished.
    public mutating func written(offset: Int, length: Int) -> Bool {
        waiting[offset] = length
        guard !held, !finished else { return false }
        held = true
        return true
    }

    public enum Next: Equatable, Sendable {
        /// Read this range back from the file and hash it, then call `hashed` and `next` again.
        case readBack(offset: Int, length: Int)
        /// Nothing is ready in order: the hash is put down for whoever writes the missing piece.
        case release
        /// Every byte is hashed: the holder compares the checksum and closes the file.
        case finished
    }

    /// The holder's next step. Putting the hash down happens under the same lock as the check
    /// that nothing waits, so a piece written meanwhile is either seen here or picks the hash up.
    /// Pieces written back to back are read back as one range, up to `readBackLimit` bytes: an
    /// incremental's 8 KiB pages would otherwise cost a read and two lock round trips each.
    public mutating func next(readBackLimit: Int = 1 << 20) -> Next {
        precondition(held, "only the holder of the hash asks for the next step")
        if var length = waiting.removeValue(forKey: hashedUpTo) {
            while length < readBackLimit, let more = waiting.removeValue(forKey: hashedUpTo + length) { length += more }
            return .readBack(offset: hashedUpTo, length: length)
        }
        held = false
        if hashedUpTo == size {
            finished = true
            return .finished
        }
        return .release
    }
}
