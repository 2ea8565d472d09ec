import CZstd

/// The compression algorithms a store object may use. The algorithm is part of the
/// object's name (its extension), so objects written under an older setting stay readable.
public enum CompressionAlgorithm: String, CaseIterable, Sendable {
    case zstd, lz4, gzip, none

    public static let `default` = CompressionAlgorithm.zstd

    /// The object name suffix, including its dot; empty for `none`.
    public var fileExtension: String {
        switch self {
        case .zstd: return ".zst"
        case .lz4: return ".lz4"
        case .gzip: return ".gz"
        case .none: return ""
        }
    }

    public static func fromExtension(_ ext: String) -> CompressionAlgorithm? {
        allCases.first { $0.fileExtension == ext }
    }

    public var defaultLevel: Int {
        switch self {
        case .zstd: return 3
        case .lz4: return 1
        case .gzip: return 6
        case .none: return 0
        }
    }

    /// Levels each library accepts; checked when the config is read rather than failing mid-push.
    public var levelRange: ClosedRange<Int> {
        switch self {
        case .zstd: return Int(ZSTD_minCLevel())...Int(ZSTD_maxCLevel())
        case .lz4: return 0...12
        case .gzip: return 1...9
        case .none: return 0...0
        }
    }
}
