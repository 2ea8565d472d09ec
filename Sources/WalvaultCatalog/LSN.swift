/// A WAL location, printed by PostgreSQL as two hex halves: "16/B374D848".
public struct LSN: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let value: UInt64

    public init(_ value: UInt64) { self.value = value }

    public init?(_ text: String) {
        let halves = text.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count == 2, let high = UInt32(halves[0], radix: 16), let low = UInt32(halves[1], radix: 16) else { return nil }
        value = UInt64(high) << 32 | UInt64(low)
    }

    public var description: String {
        String(value >> 32, radix: 16, uppercase: true) + "/" + String(value & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    public static func < (a: LSN, b: LSN) -> Bool { a.value < b.value }

    /// The segment holding this location (XLByteToSeg).
    public func segmentNumber(segmentSize: Int) -> UInt64 { value / UInt64(segmentSize) }

    /// The segment holding the byte just before this location (XLByteToPrevSeg): where a
    /// backup's stop location on a segment boundary still belongs.
    public func previousByteSegmentNumber(segmentSize: Int) -> UInt64 { (value - 1) / UInt64(segmentSize) }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let lsn = LSN(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an LSN: \(text)"))
        }
        self = lsn
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
