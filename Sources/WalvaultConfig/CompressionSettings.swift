import WalvaultPipeline

/// `[compression]`: how new objects are compressed. Reading never depends on it.
public struct CompressionSettings: Sendable, Equatable {
    public var algorithm: CompressionAlgorithm
    public var level: Int

    public init(algorithm: CompressionAlgorithm = .default, level: Int? = nil) {
        self.algorithm = algorithm
        self.level = level ?? algorithm.defaultLevel
    }
}
