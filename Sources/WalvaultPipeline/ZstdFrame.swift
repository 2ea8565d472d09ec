import CZstd

/// One chunk as one zstd frame, compressed or decompressed in one call with a context kept for
/// the next: a pack holds a dozen such frames, and a restore decodes only the ones it needs.
/// Each frame carries its content size, and the decoder refuses one whose size is not the one
/// the catalog expects, so a damaged pack cannot make it allocate more.
public final class ZstdFrame {
    private let compressor: OpaquePointer
    private let decompressor: OpaquePointer

    public init(level: Int) throws {
        guard let compressor = ZSTD_createCCtx(), let decompressor = ZSTD_createDCtx() else {
            throw PipelineError(stage: "zstd", "out of memory")
        }
        self.compressor = compressor
        self.decompressor = decompressor
        _ = try check(ZSTD_CCtx_setParameter(compressor, ZSTD_c_compressionLevel, Int32(level)), "level \(level)")
        _ = try check(ZSTD_CCtx_setParameter(compressor, ZSTD_c_contentSizeFlag, 1), "content size")
        _ = ZSTD_DCtx_setParameter(decompressor, ZSTD_d_windowLogMax, 27)
    }

    deinit {
        ZSTD_freeCCtx(compressor)
        ZSTD_freeDCtx(decompressor)
    }

    /// The most a frame of `length` bytes can take.
    public static func bound(_ length: Int) -> Int { ZSTD_compressBound(length) }

    /// Writes the frame of `bytes` into `output` (at least `bound(bytes.count)` long). - Returns: its length.
    public func compress(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        precondition(output.count >= Self.bound(bytes.count))
        return try check(ZSTD_compress2(compressor, output.baseAddress, output.count, bytes.baseAddress, bytes.count), "compress")
    }

    /// Decodes one whole frame of exactly `length` bytes into `output` (its first `length` bytes).
    public func decompress(_ frame: UnsafeRawBufferPointer, length: Int, into output: UnsafeMutableRawBufferPointer) throws {
        precondition(output.count >= length)
        let size = ZSTD_getFrameContentSize(frame.baseAddress, frame.count)
        guard size == UInt64(length) else {
            throw PipelineError(stage: "zstd", "a chunk's frame says \(size) bytes where the catalog says \(length)")
        }
        let written = try check(ZSTD_decompressDCtx(decompressor, output.baseAddress, length, frame.baseAddress, frame.count), "decompress")
        guard written == length else { throw PipelineError(stage: "zstd", "a chunk decoded to \(written) bytes, not \(length)") }
    }

    private func check(_ code: Int, _ what: String) throws -> Int {
        if ZSTD_isError(code) != 0 { throw PipelineError(stage: "zstd", "\(what): \(String(cString: ZSTD_getErrorName(code)))") }
        return code
    }
}
