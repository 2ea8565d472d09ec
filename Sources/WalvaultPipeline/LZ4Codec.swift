import CLZ4

private func lz4Check(_ code: Int, _ what: String) throws -> Int {
    if LZ4F_isError(code) != 0 {
        throw PipelineError(stage: "lz4", "\(what): \(String(cString: LZ4F_getErrorName(code)))")
    }
    return code
}

/// LZ4 frame format (what the `lz4` tool reads), for users who trade ratio for speed.
public final class LZ4CompressStage: ByteSink {
    private static let inputBlock = 256 * 1024
    private var context: OpaquePointer?
    private var preferences = LZ4F_preferences_t()
    private let output: UnsafeMutableRawBufferPointer
    private let next: ByteSink
    private var started = false

    public init(level: Int, next: ByteSink) throws {
        self.next = next
        var ctx: OpaquePointer?
        _ = try lz4Check(LZ4F_createCompressionContext(&ctx, UInt32(LZ4F_VERSION)), "create context")
        context = ctx
        preferences.compressionLevel = Int32(level)
        preferences.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        let bound = LZ4F_compressBound(Self.inputBlock, &preferences)
        output = .allocate(byteCount: max(bound, 64 * 1024) + 64, alignment: 64)
    }

    deinit {
        LZ4F_freeCompressionContext(context)
        output.deallocate()
    }

    private func begin() throws {
        guard !started else { return }
        started = true
        let n = try lz4Check(LZ4F_compressBegin(context, output.baseAddress, output.count, &preferences), "begin")
        try next.write(UnsafeRawBufferPointer(rebasing: output[0..<n]))
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try begin()
        var offset = 0
        while offset < bytes.count {
            let size = min(Self.inputBlock, bytes.count - offset)
            let n = try lz4Check(
                LZ4F_compressUpdate(
                    context, output.baseAddress, output.count,
                    bytes.baseAddress! + offset, size, nil), "compress")
            if n > 0 { try next.write(UnsafeRawBufferPointer(rebasing: output[0..<n])) }
            offset += size
        }
    }

    public func finish() throws {
        try begin()
        let n = try lz4Check(LZ4F_compressEnd(context, output.baseAddress, output.count, nil), "end")
        if n > 0 { try next.write(UnsafeRawBufferPointer(rebasing: output[0..<n])) }
        try next.finish()
    }
}

public final class LZ4DecompressStage: ByteSink {
    private var context: OpaquePointer?
    private let output: UnsafeMutableRawBufferPointer
    private let next: ByteSink
    private var lastHint = 1

    public init(next: ByteSink) throws {
        self.next = next
        var ctx: OpaquePointer?
        _ = try lz4Check(LZ4F_createDecompressionContext(&ctx, UInt32(LZ4F_VERSION)), "create context")
        context = ctx
        output = .allocate(byteCount: 256 * 1024, alignment: 64)
    }

    deinit {
        LZ4F_freeDecompressionContext(context)
        output.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count || lastHint != 0 {
            var inSize = bytes.count - offset
            var outSize = output.count
            lastHint = try lz4Check(
                LZ4F_decompress(
                    context, output.baseAddress, &outSize,
                    bytes.baseAddress.map { $0 + offset }, &inSize, nil), "decompress")
            offset += inSize
            if outSize > 0 { try next.write(UnsafeRawBufferPointer(rebasing: output[0..<outSize])) }
            if inSize == 0 && outSize == 0 { break }
        }
    }

    public func finish() throws {
        guard lastHint == 0 else { throw PipelineError(stage: "lz4", "the compressed data ends early (truncated object)") }
        try next.finish()
    }
}
