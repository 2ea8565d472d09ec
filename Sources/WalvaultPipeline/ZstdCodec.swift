import CZstd

private func zstdCheck(_ code: Int, _ what: String) throws -> Int {
    if ZSTD_isError(code) != 0 {
        throw PipelineError(stage: "zstd", "\(what): \(String(cString: ZSTD_getErrorName(code)))")
    }
    return code
}

/// Streaming zstd compression on libzstd's worker threads, while the caller reads and hashes,
/// so that a 2-core VPS uses both cores for each segment. Tuned on 16 MiB pgbench segments
/// (perf stat over scripts/bench-archive-push.sh's segments): 2 workers with independent 1 MiB
/// jobs (no overlap) were ~20 % faster than overlapping jobs for a 0.1 % larger output, and kept
/// peak RSS near 23 MiB; larger jobs raised RSS without gaining speed.
public final class ZstdCompressStage: ByteSink {
    public static let defaultWorkers = 2
    private static let jobSize = 1 << 20
    private static let noOverlap: Int32 = 1

    private let context: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer
    private let next: ByteSink

    /// - Parameter frameChecksum: false for objects named by the SHA-256 of their original bytes
    ///   (WAL): every read checks that and skips zstd's XXH64, so writing one is CPU for nothing.
    public init(
        level: Int, sizeHint: Int? = nil, workers: Int = ZstdCompressStage.defaultWorkers, frameChecksum: Bool = true, next: ByteSink
    ) throws {
        guard let context = ZSTD_createCCtx() else { throw PipelineError(stage: "zstd", "out of memory") }
        self.context = context
        self.next = next
        output = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 64)
        _ = try zstdCheck(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level)), "level \(level)")
        _ = try zstdCheck(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, frameChecksum ? 1 : 0), "frame checksum")
        if let sizeHint, sizeHint > 0 {
            _ = try zstdCheck(ZSTD_CCtx_setPledgedSrcSize(context, UInt64(sizeHint)), "size hint")
        }
        if workers > 0 {
            // A libzstd built without threads refuses nbWorkers; single-threaded is still correct.
            if ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(workers))) == 0 {
                _ = ZSTD_CCtx_setParameter(context, ZSTD_c_jobSize, Int32(Self.jobSize))
                _ = ZSTD_CCtx_setParameter(context, ZSTD_c_overlapLog, Self.noOverlap)
            }
        }
    }

    deinit {
        ZSTD_freeCCtx(context)
        output.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while input.pos < input.size {
            try step(&input, ZSTD_e_continue)
        }
    }

    public func finish() throws {
        var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try step(&input, ZSTD_e_end) != 0 {}
        try next.finish()
    }

    @discardableResult
    private func step(_ input: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective) throws -> Int {
        var out = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        let remaining = try zstdCheck(ZSTD_compressStream2(context, &out, &input, directive), "compress")
        if out.pos > 0 { try next.write(UnsafeRawBufferPointer(rebasing: output[0..<out.pos])) }
        return remaining
    }
}

public final class ZstdDecompressStage: ByteSink {
    private let context: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer
    private let next: ByteSink
    /// 0 once a whole frame has been decoded; anything else at finish means a truncated object.
    private var lastHint = 1
    private var sawInput = false

    /// Decoders with their windows, kept between objects (a session reset keeps the parameters).
    private static let contexts = ReusePool<Decoder>(limit: 8) { ZSTD_freeDCtx($0.context) }
    private struct Decoder: @unchecked Sendable { let context: OpaquePointer }

    public init(next: ByteSink, frameChecksum: Bool = true) throws {
        if let kept = Self.contexts.take() {
            context = kept.context
        } else {
            guard let context = ZSTD_createDCtx() else { throw PipelineError(stage: "zstd", "out of memory") }
            // Refuse frames that would need a window larger than 128 MiB: a corrupted header must not make us allocate gigabytes.
            _ = ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, 27)
            self.context = context
        }
        // Set for every object: a kept decoder remembers the last object's choice.
        _ = ZSTD_DCtx_setParameter(context, ZSTD_d_experimentalParam3, frameChecksum ? 0 : 1)  // ZSTD_d_forceIgnoreChecksum
        self.next = next
        output = .allocate(byteCount: ZSTD_DStreamOutSize(), alignment: 64)
    }

    deinit {
        // Whatever frame this object was in, even a damaged one, is forgotten before the next.
        if ZSTD_isError(ZSTD_DCtx_reset(context, ZSTD_reset_session_only)) == 0 {
            Self.contexts.give(Decoder(context: context))
        } else {
            ZSTD_freeDCtx(context)
        }
        output.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if bytes.count > 0 { sawInput = true }
        var input = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while input.pos < input.size {
            try drain(&input)
        }
    }

    public func finish() throws {
        // Flush what the decoder still holds for an input that ended exactly on a block.
        var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        if lastHint != 0 && sawInput { try drain(&input) }
        guard sawInput && lastHint == 0 else {
            throw PipelineError(stage: "zstd", "the compressed data ends early (truncated object)")
        }
        try next.finish()
    }

    private func drain(_ input: inout ZSTD_inBuffer) throws {
        while true {
            var out = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            lastHint = try zstdCheck(ZSTD_decompressStream(context, &out, &input), "decompress")
            if out.pos > 0 { try next.write(UnsafeRawBufferPointer(rebasing: output[0..<out.pos])) }
            // A full output buffer may mean more is pending even with no input left; but once
            // a frame is complete (0), calling again would start reading a next frame.
            if lastHint == 0 || out.pos < out.size { break }
        }
    }
}
