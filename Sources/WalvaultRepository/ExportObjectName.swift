import WalvaultCatalog
import WalvaultPipeline
import WalvaultSystem

/// `<time>-<sha256 of the original bytes><format extension><compression extension>`, e.g.
/// `20261124T110447123456Z-<sha256>.dump` for a schema dump or `…-<sha256>.jsonl.zst` for
/// exported rows. As with WAL and parts, the checksum in the name lets any copy be verified with
/// nothing else, and the time (when the export began, UTC µs) orders and identifies it; the
/// directory (`dump/<schema>`, `logs/<table>`) says what it is of.
public struct ExportObjectName: Equatable, Sendable, CustomStringConvertible {
    public let time: Int64
    public let sha256: String
    public let format: ExportFormat
    public let compression: CompressionAlgorithm

    public init(time: Int64, sha256: String, format: ExportFormat, compression: CompressionAlgorithm) {
        self.time = time
        self.sha256 = sha256
        self.format = format
        self.compression = compression
    }

    public var stamp: String { StoredObjectName.stamp(time) }

    public var description: String { "\(stamp)-\(sha256)\(format.fileExtension)\(compression.fileExtension)" }

    /// What every object of an export started at `time` begins with, whatever its checksum.
    public static func prefix(time: Int64) -> String { StoredObjectName.stamp(time) + "-" }

    public init?(_ name: String) {
        for compression in CompressionAlgorithm.allCases.sorted(by: { $0.fileExtension.count > $1.fileExtension.count })
        where name.hasSuffix(compression.fileExtension) {
            let withFormat = name.dropLast(compression.fileExtension.count)
            for format in ExportFormat.allCases where withFormat.hasSuffix(format.fileExtension) {
                let base = withFormat.dropLast(format.fileExtension.count)
                guard base.utf8.count == StoredObjectName.stampLength + 1 + 64 else { continue }
                let sha = base.suffix(64)
                guard Hex.isLowercaseHex(sha, count: 64), base.dropLast(64).last == "-",
                    let time = StoredObjectName.parseStamp(base.prefix(StoredObjectName.stampLength))
                else { continue }
                self.init(time: time, sha256: String(sha), format: format, compression: compression)
                return
            }
        }
        return nil
    }
}
