import Synchronization
import Testing
import WalvaultTesting

@testable import WalvaultPipeline

func compress(_ input: [UInt8], _ algorithm: CompressionAlgorithm, level: Int? = nil, chunk: Int = 100_000) throws -> [UInt8] {
    let sink = MemorySink()
    let stage = try Compression.compressor(algorithm, level: level ?? algorithm.defaultLevel, sizeHint: input.count, next: sink)
    var offset = 0
    while offset < input.count {
        let end = min(offset + chunk, input.count)
        try input[offset..<end].withUnsafeBytes { try stage.write($0) }
        offset = end
    }
    try stage.finish()
    #expect(sink.finished)
    return sink.bytes
}

func decompress(_ input: [UInt8], _ algorithm: CompressionAlgorithm, chunk: Int = 65_536, frameChecksum: Bool = true) throws -> (
    bytes: [UInt8], sha: String
) {
    let sink = MemorySink()
    let hashing = HashingStage(next: sink)
    let stage = try Compression.decompressor(algorithm, next: hashing, frameChecksum: frameChecksum)
    var offset = 0
    while offset < input.count {
        let end = min(offset + chunk, input.count)
        try input[offset..<end].withUnsafeBytes { try stage.write($0) }
        offset = end
    }
    try stage.finish()
    return (sink.bytes, hashing.hexDigest!)
}

@Suite struct PipelineTests {
    @Test func sha256MatchesKnownVectors() {
        #expect(SHA256Hasher.hex(of: []) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256Hasher.hex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test(arguments: CompressionAlgorithm.allCases, [0, 1, 131_072, 3_000_001])
    func roundTripRestoresExactBytes(algorithm: CompressionAlgorithm, size: Int) throws {
        let input = sampleBytes(size)
        let compressed = try compress(input, algorithm)
        if algorithm != .none && size > 100_000 { #expect(compressed.count < input.count) }
        let (output, sha) = try decompress(compressed, algorithm)
        #expect(output == input)
        #expect(sha == SHA256Hasher.hex(of: input))
    }

    @Test(arguments: [1, 7, 4096, 1 << 20])
    func zstdDecodesWhateverTheChunking(chunk: Int) throws {
        let input = sampleBytes(2_000_000, seed: 7)
        let compressed = try compress(input, .zstd)
        #expect(try decompress(compressed, .zstd, chunk: chunk).bytes == input)
    }

    @Test(arguments: [CompressionAlgorithm.zstd, .lz4, .gzip])
    func truncatedObjectIsAnError(algorithm: CompressionAlgorithm) throws {
        let compressed = try compress(sampleBytes(500_000), algorithm)
        #expect(throws: PipelineError.self) { try decompress(Array(compressed.dropLast(10)), algorithm) }
        #expect(throws: PipelineError.self) { try decompress([], algorithm) }
    }

    @Test(arguments: [CompressionAlgorithm.zstd, .lz4, .gzip])
    func corruptedObjectNeverDecodesSilently(algorithm: CompressionAlgorithm) throws {
        let input = sampleBytes(300_000)
        var compressed = try compress(input, algorithm)
        compressed[compressed.count / 2] ^= 0x55
        // Either the codec notices, or the checksum of the original bytes does.
        do {
            let (_, sha) = try decompress(compressed, algorithm)
            #expect(sha != SHA256Hasher.hex(of: input))
        } catch is PipelineError {}
    }

    /// Decoders are reused between objects: one left mid-frame by a truncated or corrupted
    /// object must decode the next object as if it were new.
    @Test func aReusedZstdDecoderForgetsTheObjectBefore() throws {
        let first = sampleBytes(3_000_001, seed: 11)
        let second = sampleBytes(700_000, seed: 12)
        let compressedFirst = try compress(first, .zstd)
        let compressedSecond = try compress(second, .zstd)
        for _ in 0..<20 {
            #expect(throws: PipelineError.self) { try decompress(Array(compressedFirst.prefix(compressedFirst.count / 2)), .zstd) }
            var corrupted = compressedFirst
            corrupted[corrupted.count / 3] ^= 0x55
            _ = try? decompress(corrupted, .zstd)
            let (bytes, sha) = try decompress(compressedSecond, .zstd)
            #expect(bytes == second)
            #expect(sha == SHA256Hasher.hex(of: second))
        }
    }

    /// zstd's frame checksum is skipped only where the caller hashes the output itself, and a
    /// reused decoder checks it again for the next object that asks.
    @Test func aZstdFrameChecksumIsCheckedUnlessTheCallerHashesTheBytes() throws {
        let input = sampleBytes(400_000, seed: 13)
        var compressed = try compress(input, .zstd)
        compressed[compressed.count - 1] ^= 0x01  // the last byte of the frame's XXH64
        for _ in 0..<3 {
            let (bytes, sha) = try decompress(compressed, .zstd, frameChecksum: false)
            #expect(bytes == input && sha == SHA256Hasher.hex(of: input))
            #expect(throws: PipelineError.self) { try decompress(compressed, .zstd) }
        }
    }

    @Test func aPoolKeepsAtMostItsLimitAndDiscardsTheRest() {
        let discarded = Mutex<[Int]>([])
        let pool = ReusePool<Int>(limit: 2) { value in discarded.withLock { $0.append(value) } }
        #expect(pool.take() == nil)
        for value in 1...4 { pool.give(value) }
        #expect(discarded.withLock { $0 } == [3, 4])
        #expect(pool.take() == 2)
        #expect(pool.take() == 1)
        #expect(pool.take() == nil)
    }

    @Test func zstdOutputIsAStandardFrame() throws {
        let compressed = try compress(Array("hello".utf8), .zstd)
        #expect(Array(compressed.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD])
    }

    @Test func levelsOutsideTheLibraryRangeAreRejectedByConfigRange() {
        #expect(CompressionAlgorithm.zstd.levelRange.contains(3))
        #expect(!CompressionAlgorithm.gzip.levelRange.contains(0))
        #expect(CompressionAlgorithm.fromExtension(".zst") == .zstd)
        #expect(CompressionAlgorithm.fromExtension("") == CompressionAlgorithm.none)
        #expect(CompressionAlgorithm.fromExtension(".bz2") == nil)
    }
}
