/// The byte-level encoding of walvault's binary catalogs (file-tree snapshots, their chunk tables):
/// LEB128 varints and length-prefixed byte strings. Binary because a tree's names are bytes, not
/// text (a file name may be any bytes but '/' and NUL), and because a snapshot of 100,000 files
/// must be written and read in well under a second.
public struct BinaryWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(reservingCapacity capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    public mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    public mutating func varint(_ value: Int) { varint(UInt64(value)) }

    /// Zig-zag, for the few values that can be negative (times before 1970).
    public mutating func signed(_ value: Int64) { varint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }

    public mutating func byteString(_ value: [UInt8]) {
        varint(value.count)
        bytes.append(contentsOf: value)
    }

    public mutating func raw(_ value: [UInt8]) { bytes.append(contentsOf: value) }

    public mutating func byte(_ value: UInt8) { bytes.append(value) }

    /// Hands the bytes so far to `body` and forgets them: a writer reused as a buffer.
    public mutating func drain(_ body: ([UInt8]) throws -> Void) rethrows {
        try body(bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}

/// Why a binary catalog could not be read: it ended early or holds what no writer wrote.
public struct BinaryDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Reads what `BinaryWriter` wrote, from any pull source (a file, a decompressed object), a
/// buffer at a time, so a catalog of any size is read in bounded memory.
public final class BinaryReader {
    private let pull: (UnsafeMutableRawBufferPointer) throws -> Int
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var atEnd = false
    /// Bytes pulled from the source so far.
    private var pulled = 0

    public init(bufferSize: Int = 1 << 16, pull: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) {
        self.pull = pull
        buffer = [UInt8](repeating: 0, count: bufferSize)
    }

    public convenience init(bytes: [UInt8]) {
        var offset = 0
        self.init { destination in
            let count = min(destination.count, bytes.count - offset)
            bytes.withUnsafeBytes { destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + count)])) }
            offset += count
            return count
        }
    }

    private func refill() throws -> Bool {
        if start < end { return true }
        guard !atEnd else { return false }
        start = 0
        end = try buffer.withUnsafeMutableBytes { try pull($0) }
        pulled += end
        if end == 0 { atEnd = true }
        return end > 0
    }

    public func byte() throws -> UInt8 {
        guard try refill() else { throw BinaryDecodingError("it ends early") }
        defer { start += 1 }
        return buffer[start]
    }

    /// How many bytes of the source were read through this reader: where the next one starts.
    public var position: Int { pulled - (end - start) }

    /// True when nothing is left.
    public func isAtEnd() throws -> Bool { try !refill() }

    public func varint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try byte()
            guard shift < 64 else { throw BinaryDecodingError("a number is longer than 64 bits") }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// A varint that must fit `limit`: a count or a length, which a damaged catalog could make huge.
    public func int(max limit: Int = Int(Int32.max)) throws -> Int {
        let value = try varint()
        guard value <= UInt64(limit) else { throw BinaryDecodingError("a count of \(value) is larger than \(limit)") }
        return Int(value)
    }

    public func signed() throws -> Int64 {
        let value = try varint()
        return Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1)
    }

    public func bytes(_ count: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            guard try refill() else { throw BinaryDecodingError("it ends early") }
            let take = min(count - result.count, end - start)
            result.append(contentsOf: buffer[start..<(start + take)])
            start += take
        }
        return result
    }

    public func byteString(max limit: Int = 1 << 20) throws -> [UInt8] { try bytes(try int(max: limit)) }

    public func expect(_ magic: [UInt8], what: String) throws {
        guard try bytes(magic.count) == magic else { throw BinaryDecodingError("it is not \(what)") }
    }
}
