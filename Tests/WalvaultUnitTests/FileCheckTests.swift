import Testing
import WalvaultCatalog
import WalvaultPipeline
import WalvaultTesting

@testable import WalvaultBackup

/// Verify's checks of a file's bytes as parts hand them over: a relation file's blocks against its
/// block map, whatever the pieces' boundaries, and a file's SHA-256 in order.
@Suite struct FileCheckTests {
    static let block = BackupManifest.blockSize

    static func map(of bytes: [UInt8]) throws -> [UInt64] {
        try stride(from: 0, to: bytes.count, by: block).map { start in
            try bytes[start..<min(start + block, bytes.count)].withUnsafeBytes { try BlockFingerprint.of($0) }
        }
    }

    /// Hands `bytes[from..<to]` over for each cut, as pieces of parts would.
    static func feed(_ check: FileCheck, _ bytes: [UInt8], _ pieces: [Range<Int>]) throws {
        for piece in pieces { try bytes[piece].withUnsafeBytes { try check.update($0, at: piece.lowerBound) } }
    }

    static func cuts(_ bounds: [Int]) -> [Range<Int>] { zip(bounds, bounds.dropFirst()).map { $0..<$1 } }

    @Test(arguments: [
        [0, 10 * block + 100],  // one piece
        [0, 5000, 5001, 3 * block, 3 * block + 1, 9 * block + 7, 10 * block + 100],  // cut anywhere, even one byte
        [0, block, 2 * block, 10 * block, 10 * block + 100]  // on block bounds, with a short last block
    ])
    func everyBlockMatchesWhereverThePiecesAreCut(bounds: [Int]) throws {
        let bytes = sampleBytes(10 * Self.block + 100, seed: 3)
        let check = BlockMapCheck(fingerprints: try Self.map(of: bytes), size: bytes.count)
        try Self.feed(check, bytes, Self.cuts(bounds))
        #expect(check.finish() == .matched)
    }

    @Test func aChangedByteNamesItsBlock() throws {
        var bytes = sampleBytes(6 * Self.block, seed: 4)
        let check = BlockMapCheck(fingerprints: try Self.map(of: bytes), size: bytes.count)
        bytes[4 * Self.block + 17] ^= 0x40
        try Self.feed(check, bytes, Self.cuts([0, 2 * Self.block + 5, 6 * Self.block]))
        #expect(check.finish() == .mismatched("block 4 does not match the backup's block map"))
    }

    @Test func anIncrementalsOwnBlocksAreCheckedAndTheRestIsPartlyChecked() throws {
        var bytes = sampleBytes(8 * Self.block, seed: 5)
        let fingerprints = try Self.map(of: bytes)
        // Blocks 2 and 5 are this backup's; the rest, and the second half of block 6, are elsewhere.
        let own = [2 * Self.block..<3 * Self.block, 5 * Self.block..<6 * Self.block, 6 * Self.block + 4096..<7 * Self.block]
        let check = BlockMapCheck(fingerprints: fingerprints, size: bytes.count)
        try Self.feed(check, bytes, own)
        #expect(check.finish() == .partlyChecked)

        bytes[5 * Self.block] ^= 1
        let damaged = BlockMapCheck(fingerprints: fingerprints, size: bytes.count)
        try Self.feed(damaged, bytes, own)
        #expect(damaged.finish() == .mismatched("block 5 does not match the backup's block map"))
    }

    @Test func aBlockBegunButNotFinishedHereIsNotJudged() throws {
        let bytes = sampleBytes(3 * Self.block, seed: 6)
        let check = BlockMapCheck(fingerprints: try Self.map(of: bytes), size: bytes.count)
        // Block 1's first half here, its second half elsewhere; block 2 whole.
        try Self.feed(check, bytes, [Self.block..<(Self.block + 4096), 2 * Self.block..<3 * Self.block])
        #expect(check.finish() == .partlyChecked)
    }

    @Test func aMapOfTheWrongLengthOrBytesPastTheSizeAreMismatches() throws {
        let bytes = sampleBytes(4 * Self.block, seed: 7)
        let short = BlockMapCheck(fingerprints: Array(try Self.map(of: bytes).prefix(3)), size: bytes.count)
        try Self.feed(short, bytes, [0..<bytes.count])
        #expect(short.finish() == .mismatched("has 4 blocks, its block map 3"))

        let longer = bytes + sampleBytes(10, seed: 1)
        let past = BlockMapCheck(fingerprints: try Self.map(of: bytes), size: bytes.count)
        try Self.feed(past, longer, [0..<longer.count])
        #expect(past.finish() == .mismatched("holds more bytes than the manifest's size of \(bytes.count)"))
    }

    @Test func aWholeFileHashNeedsItsBytesInOrder() throws {
        let bytes = sampleBytes(3 * Self.block + 9, seed: 8)
        let sha = SHA256Hasher.hex(of: bytes)
        let inOrder = WholeFileHash(expected: sha)
        try Self.feed(inOrder, bytes, Self.cuts([0, 100, 9000, bytes.count]))
        #expect(inOrder.finish() == .matched)

        let swapped = WholeFileHash(expected: sha)
        try Self.feed(swapped, bytes, [100..<bytes.count, 0..<100])
        #expect(swapped.finish() == .mismatched("does not match its checksum in the manifest"))

        let other = WholeFileHash(expected: String(repeating: "0", count: 64))
        try Self.feed(other, bytes, [0..<bytes.count])
        #expect(other.finish() == .mismatched("does not match its checksum in the manifest"))
    }
}
