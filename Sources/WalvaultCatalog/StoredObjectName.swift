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

    public init?(_ name: String) {
        guard let dash = name.firstIndex(of: "-") else { return nil }
        let original = name[..<dash]
        let rest = name[name.index(after: dash)...]
        guard !original.isEmpty, rest.utf8.count >= 64 else { return nil }
        let sha = rest.prefix(64)
        guard Hex.isLowercaseHex(sha, count: 64), let algorithm = CompressionAlgorithm.fromExtension(String(rest.dropFirst(64))) else {
            return nil
        }
        self.init(originalName: String(original), sha256: String(sha), compression: algorithm)
    }
}
