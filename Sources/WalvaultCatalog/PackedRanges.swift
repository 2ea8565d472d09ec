#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How a manifest stores a file's ranges: per range, LEB128 varints of source, part, offset and
/// length, the whole list base64 in one JSON string. Four JSON numbers per range made a busy
/// incremental's manifest hundreds of thousands of JSON values, which JSONDecoder maps whole
/// before it reads one: 30 MB of memory and a fifth of a second to read a 2 MB manifest, in
/// every command that lists the backups. Manifests written with four numbers per range are
/// still read (`BackupManifest.Entry`).
public enum PackedRanges {
    public static func encode(_ ranges: [BackupManifest.Range]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ranges.count * 8)
        func append(_ value: Int) {
            var rest = UInt64(value)
            while rest >= 0x80 {
                bytes.append(UInt8(rest & 0x7F) | 0x80)
                rest >>= 7
            }
            bytes.append(UInt8(rest))
        }
        for range in ranges {
            append(range.source)
            append(range.part)
            append(range.offset)
            append(range.length)
        }
        return Data(bytes).base64EncodedString()
    }

    public struct Damaged: Error, Equatable, Sendable {
        public let reason: String
        public init(reason: String) { self.reason = reason }
    }

    public static func decode(_ text: String) throws -> [BackupManifest.Range] {
        guard let data = Data(base64Encoded: text) else { throw Damaged(reason: "the packed ranges are not base64") }
        var ranges: [BackupManifest.Range] = []
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var at = 0
            func next() throws -> Int {
                var value: UInt64 = 0
                var shift: UInt64 = 0
                while true {
                    guard at < bytes.count else { throw Damaged(reason: "the packed ranges end inside a number") }
                    let byte = bytes[at]
                    at += 1
                    // Nine bytes carry 63 bits, every non-negative Int; a tenth is damage.
                    guard shift <= 56 else { throw Damaged(reason: "a packed range holds a number too large") }
                    value |= UInt64(byte & 0x7F) << shift
                    if byte < 0x80 { break }
                    shift += 7
                }
                return Int(value)
            }
            while at < bytes.count {
                ranges.append(.init(source: try next(), part: try next(), offset: try next(), length: try next()))
            }
        }
        return ranges
    }
}
