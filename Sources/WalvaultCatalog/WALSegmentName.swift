import WalvaultSystem

/// A WAL segment's 24-hex-digit name: timeline, "log" and "segment" parts, as PostgreSQL
/// prints them. The log/segment split depends on the segment size, which the name alone
/// does not tell; `segmentNumber(segmentSize:)` needs it.
public struct WALSegmentName: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let timeline: UInt32
    public let log: UInt32
    public let segment: UInt32

    public init(timeline: UInt32, log: UInt32, segment: UInt32) {
        self.timeline = timeline
        self.log = log
        self.segment = segment
    }

    public init?<S: StringProtocol>(_ text: S) {
        guard Hex.isUppercaseHex(text, count: 24) else { return nil }
        let utf8 = Array(text.utf8)
        func part(_ i: Int) -> UInt32 { UInt32(String(decoding: utf8[i..<(i + 8)], as: UTF8.self), radix: 16)! }
        self.init(timeline: part(0), log: part(8), segment: part(16))
        guard timeline != 0 else { return nil }
    }

    public init(timeline: UInt32, segmentNumber: UInt64, segmentSize: Int) {
        let perLog = Self.segmentsPerLog(segmentSize)
        self.init(timeline: timeline, log: UInt32(segmentNumber / perLog), segment: UInt32(segmentNumber % perLog))
    }

    /// Segments per 4 GiB "log file", the unit of the middle eight digits.
    public static func segmentsPerLog(_ segmentSize: Int) -> UInt64 { 0x1_0000_0000 / UInt64(segmentSize) }

    public func segmentNumber(segmentSize: Int) -> UInt64 {
        UInt64(log) * Self.segmentsPerLog(segmentSize) + UInt64(segment)
    }

    /// Whether the segment part fits the segment size (with 16 MiB segments it is below 0x100).
    public func isValid(segmentSize: Int) -> Bool { UInt64(segment) < Self.segmentsPerLog(segmentSize) }

    public var description: String { Self.hex8(timeline) + Self.hex8(log) + Self.hex8(segment) }

    /// The directory part used by stores: timeline and log, as pgBackRest does, so a
    /// directory holds at most 256 segments of 16 MiB.
    public var directoryName: String { Self.hex8(timeline) + Self.hex8(log) }

    public static func < (a: WALSegmentName, b: WALSegmentName) -> Bool {
        (a.timeline, a.log, a.segment) < (b.timeline, b.log, b.segment)
    }

    static func hex8(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
