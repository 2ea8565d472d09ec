import WalvaultSystem

/// What archive-get's prefetch spool holds and should hold, decided from names alone. A file is
/// `<segment>-<sha256 of its bytes>`: complete, decompressed and verified when it got that name.
/// Pure; unit-tested case by case.
public enum PrefetchPlan {
    /// Files in the spool that are not prefetched segments: the worker's lock and the request.
    public static let controlFiles: Set<String> = [".lock", ".wanted"]

    public static func fileName(segment: String, sha256: String) -> String { segment + "-" + sha256 }

    /// `(segment, sha256)` of a prefetched file's name; nil for anything else.
    public static func parse(_ name: String) -> (segment: String, sha256: String)? {
        let bytes = Array(name.utf8)
        guard bytes.count == 24 + 1 + 64, bytes[24] == UInt8(ascii: "-") else { return nil }
        let segment = String(decoding: bytes[0..<24], as: UTF8.self)
        let sha = String(decoding: bytes[25...], as: UTF8.self)
        guard bytes[0..<24].allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 70) }), Hex.isLowercaseHex(sha, count: 64) else { return nil }
        return (segment, sha)
    }

    /// What a request for `requested` makes useless: segments of other timelines (recovery moved
    /// on, or never goes there), of this timeline before it (replayed), and leftovers that
    /// are not prefetched segments (a dead worker's temporary files are removed by the worker).
    /// Segment names of one timeline sort as their positions do, whatever the segment size.
    public static func stale(_ names: [String], requested: String) -> [String] {
        let timeline = requested.prefix(8)
        return names.filter { name in
            if controlFiles.contains(name) || name.hasPrefix(".tmp-") || name.hasPrefix(".id-") { return false }
            guard let entry = parse(name) else { return true }
            return entry.segment.prefix(8) != timeline || entry.segment < requested
        }
    }

    /// The `count` segments after `segment` on its timeline: what the worker keeps ready.
    public static func targets(after segment: WALSegmentName, count: Int, segmentSize: Int) -> [WALSegmentName] {
        guard count > 0 else { return [] }
        let number = segment.segmentNumber(segmentSize: segmentSize)
        return (1...count).map { WALSegmentName(timeline: segment.timeline, segmentNumber: number + UInt64($0), segmentSize: segmentSize) }
    }
}
