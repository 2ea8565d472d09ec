import WalvaultPipeline
import WalvaultSystem

/// `<original name>-<sha256 of the original bytes><compression extension>`. The checksum in
/// the name (as pgBackRest does) means a re-push can be judged identical or different from
/// a listing alone, and any reader can verify an object without another file.
public struct StoredObjectName: Equatable, Sendable, CustomStringConvertible {
    public let originalName: String
    public let sha256: String
    public let compression: CompressionAlgorithm

    public init(originalName: String, sha256: String, compression: CompressionAlgorithm) {
        self.originalName = originalName
        self.sha256 = sha256
        self.compression = compression
    }

    /// The prefix every object of `originalName` starts with, whatever its checksum.
    public static func prefix(for originalName: String) -> String { originalName + "-" }

    public var description: String { "\(originalName)-\(sha256)\(compression.fileExtension)" }

    /// Parsed from the end, since original names may contain dashes (`part-000001`).
    public init?(_ name: String) {
        let byLongestExtension = CompressionAlgorithm.allCases.sorted { $0.fileExtension.count > $1.fileExtension.count }
        for algorithm in byLongestExtension where name.hasSuffix(algorithm.fileExtension) {
            let base = name.dropLast(algorithm.fileExtension.count)
            guard base.utf8.count > 65 else { continue }
            let sha = base.suffix(64)
            let original = base.dropLast(65)
            guard Hex.isLowercaseHex(sha, count: 64), base.dropLast(64).last == "-", !original.isEmpty else { continue }
            self.init(originalName: String(original), sha256: String(sha), compression: algorithm)
            return
        }
        return nil
    }
}
