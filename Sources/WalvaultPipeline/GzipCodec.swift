import CShims
import CZlib

/// gzip through zlib, for stores that other tools (zcat) must be able to read.
public final class GzipCompressStage: ByteSink {
    private var stream = z_stream()
    private let output: UnsafeMutableRawBufferPointer
    private let next: ByteSink

    public init(level: Int, next: ByteSink) throws {
        self.next = next
        output = .allocate(byteCount: 256 * 1024, alignment: 64)
        guard wv_deflate_init_gzip(&stream, Int32(level)) == Z_OK else {
            output.deallocate()
            throw PipelineError(stage: "gzip", "cannot start compression at level \(level)")
        }
    }

    deinit {
        deflateEnd(&stream)
        output.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        stream.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = UInt32(bytes.count)
        repeat { _ = try run(Z_NO_FLUSH) } while stream.avail_in > 0 || stream.avail_out == 0
    }

    public func finish() throws {
        stream.next_in = nil
        stream.avail_in = 0
        while try run(Z_FINISH) != Z_STREAM_END {}
        try next.finish()
    }

    private func run(_ flush: Int32) throws -> Int32 {
        stream.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = UInt32(output.count)
        let rc = deflate(&stream, flush)
        guard rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR else {
            throw PipelineError(stage: "gzip", "compression failed (zlib code \(rc))")
        }
        let produced = output.count - Int(stream.avail_out)
        if produced > 0 { try next.write(UnsafeRawBufferPointer(rebasing: output[0..<produced])) }
        return rc
    }
}

public final class GzipDecompressStage: ByteSink {
    private var stream = z_stream()
    private let output: UnsafeMutableRawBufferPointer
    private let next: ByteSink
    private var ended = false

    public init(next: ByteSink) throws {
        self.next = next
        output = .allocate(byteCount: 256 * 1024, alignment: 64)
        guard wv_inflate_init_gzip(&stream) == Z_OK else {
            output.deallocate()
            throw PipelineError(stage: "gzip", "cannot start decompression")
        }
    }

    deinit {
        inflateEnd(&stream)
        output.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        if ended { throw PipelineError(stage: "gzip", "unexpected data after the end of the compressed stream") }
        stream.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = UInt32(bytes.count)
        while stream.avail_in > 0 && !ended {
            stream.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = UInt32(output.count)
            let rc = inflate(&stream, Z_NO_FLUSH)
            guard rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR else {
                throw PipelineError(stage: "gzip", "corrupted compressed data (zlib code \(rc))")
            }
            let produced = output.count - Int(stream.avail_out)
            if produced > 0 { try next.write(UnsafeRawBufferPointer(rebasing: output[0..<produced])) }
            if rc == Z_STREAM_END { ended = true }
            if rc == Z_BUF_ERROR && produced == 0 { break }
        }
        if ended && stream.avail_in > 0 {
            throw PipelineError(stage: "gzip", "unexpected data after the end of the compressed stream")
        }
    }

    public func finish() throws {
        guard ended else { throw PipelineError(stage: "gzip", "the compressed data ends early (truncated object)") }
        try next.finish()
    }
}
