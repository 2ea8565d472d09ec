/// Builds the compression stage for an algorithm, so callers never switch on the algorithm themselves.
public enum Compression {
    /// - Parameter sizeHint: the input size when known (WAL segments), which lets zstd pick its parameters.
    /// - Parameter threads: zstd's own compression threads (0: compress in the caller's thread);
    ///   the other algorithms always compress in the caller's thread.
    public static func compressor(
        _ algorithm: CompressionAlgorithm, level: Int, sizeHint: Int? = nil,
        threads: Int = ZstdCompressStage.defaultWorkers, frameChecksum: Bool = true, next: ByteSink
    ) throws -> ByteSink {
        switch algorithm {
        case .zstd: return try ZstdCompressStage(level: level, sizeHint: sizeHint, workers: threads, frameChecksum: frameChecksum, next: next)
        case .lz4: return try LZ4CompressStage(level: level, next: next)
        case .gzip: return try GzipCompressStage(level: level, next: next)
        case .none: return next
        }
    }

    /// - Parameter frameChecksum: false when the caller checks the decompressed bytes with a
    ///   SHA-256 of its own (an object's name, a file's manifest entry): zstd's XXH64 of the same
    ///   bytes would then be a tenth of the decompressor's time spent proving nothing more.
    public static func decompressor(_ algorithm: CompressionAlgorithm, next: ByteSink, frameChecksum: Bool = true) throws -> ByteSink {
        switch algorithm {
        case .zstd: return try ZstdDecompressStage(next: next, frameChecksum: frameChecksum)
        case .lz4: return try LZ4DecompressStage(next: next)
        case .gzip: return try GzipDecompressStage(next: next)
        case .none: return next
        }
    }
}
