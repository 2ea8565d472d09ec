import WalvaultCatalog
import WalvaultPipeline
import WalvaultSystem

/// `<original name>-[<archive time>-]<sha256 of the original bytes><compression extension>`. The
/// checksum in the name (as pgBackRest does) means a re-push can be judged identical or different
/// from a listing alone, and any reader can verify an object without another file.
///
/// WAL objects also carry the moment walvault archived them (`20261124T110447123456Z`, UTC, µs):
/// restore decides which segments precede a target time from it, never from the store's
/// modification time, which a copy without `-p`, a bucket copy or a re-upload changes. Objects
/// written before this existed have no time; readers fall back to the store's, and say so.
public struct StoredObjectName: Equatable, Sendable, CustomStringConvertible {
    public let originalName: String
    public let sha256: String
    public let compression: CompressionAlgorithm
    /// µs since the epoch; nil for backup parts and for WAL archived by walvault before 0.2.
    public let archivedAt: Int64?

    public init(originalName: String, sha256: String, compression: CompressionAlgorithm, archivedAt: Int64? = nil) {
        self.originalName = originalName
        self.sha256 = sha256
        self.compression = compression
        self.archivedAt = archivedAt
    }

    /// Backup parts of format 2 (`data-000001`, `map-000001`) carry the SHA-256 of the bytes they
    /// store (compressed, before encryption), so their original bytes are hashed only once, for
    /// their files' checksums; every other object carries its original bytes' checksum.
    public var checksumCoversStoredBytes: Bool { Self.storedBytesPrefixes.contains { originalName.hasPrefix($0) } }
    public static let storedBytesPrefixes = ["data-", "map-"]

    /// The prefix every object of `originalName` starts with, whatever its checksum.
    public static func prefix(for originalName: String) -> String { originalName + "-" }

    public var description: String {
        "\(originalName)-\(archivedAt.map { Self.stamp($0) + "-" } ?? "")\(sha256)\(compression.fileExtension)"
    }

    /// `YYYYMMDDTHHMMSSffffffZ`: fixed width, sorts as time does, readable in a listing.
    public static func stamp(_ micros: Int64) -> String {
        String(UTCTime.compact(micros).dropLast()) + UTCTime.pad(micros % 1_000_000, 6) + "Z"
    }

    static let stampLength = 22

    /// `YYYYMMDDTHHMMSSffffffZ` by its characters alone, before any date is checked: an id of this
    /// shape that names nothing is "not found", not "malformed".
    public static func isStampShaped<S: StringProtocol>(_ text: S) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == stampLength && bytes[8] == UInt8(ascii: "T") && bytes[21] == UInt8(ascii: "Z")
            && (bytes[0..<8] + bytes[9..<21]).allSatisfy({ $0 >= 48 && $0 <= 57 })
    }

    public static func parseStamp<S: StringProtocol>(_ text: S) -> Int64? {
        guard isStampShaped(text) else { return nil }
        let s = String(text)
        func field(_ from: Int, _ count: Int) -> Substring { s.dropFirst(from).prefix(count) }
        return RecoveryTarget.parseTime(
            "\(field(0, 4))-\(field(4, 2))-\(field(6, 2)) \(field(9, 2)):\(field(11, 2)):\(field(13, 2)).\(field(15, 6))+00")
    }

    /// Parsed from the end, since original names may contain dashes (`part-000001`).
    public init?(_ name: String) {
        let byLongestExtension = CompressionAlgorithm.allCases.sorted { $0.fileExtension.count > $1.fileExtension.count }
        for algorithm in byLongestExtension where name.hasSuffix(algorithm.fileExtension) {
            let base = name.dropLast(algorithm.fileExtension.count)
            guard base.utf8.count > 65 else { continue }
            let sha = base.suffix(64)
            var original = base.dropLast(65)
            guard Hex.isLowercaseHex(sha, count: 64), base.dropLast(64).last == "-", !original.isEmpty else { continue }
            var archivedAt: Int64?
            if original.utf8.count > Self.stampLength + 1, original.dropLast(Self.stampLength).last == "-",
                let time = Self.parseStamp(original.suffix(Self.stampLength))
            {
                archivedAt = time
                original = original.dropLast(Self.stampLength + 1)
            }
            self.init(originalName: String(original), sha256: String(sha), compression: algorithm, archivedAt: archivedAt)
            return
        }
        return nil
    }
}
