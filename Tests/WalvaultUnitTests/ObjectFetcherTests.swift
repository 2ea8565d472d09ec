import Testing
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultTesting

/// What proves an object's bytes when it is read back: the SHA-256 in its name. zstd's own frame
/// checksum is skipped where that SHA-256 covers the decompressed bytes, so a damaged checksum
/// field alone does not refuse intact bytes, and damage anywhere else still refuses them.
@Suite struct ObjectFetcherTests {
    let dir = TempDir()

    func store(_ bytes: [UInt8], as name: StoredObjectName, in store: Store) throws -> StoreObject {
        let writer = try store.makeWriter(directory: "wal")
        try bytes.withUnsafeBytes { try writer.write($0) }
        _ = try writer.commit(name: name.description)
        return StoreObject(key: "wal/\(name)", size: bytes.count)
    }

    @Test func theNamesChecksumProvesTheBytesWhateverTheFrameChecksumSays() throws {
        let target = makeContext(stores: [dir.sub("store")]).stores[0]
        let original = sampleBytes(300_000, seed: 21)
        let name = StoredObjectName(originalName: "000000010000000000000001", sha256: SHA256Hasher.hex(of: original), compression: .zstd)

        var checksumDamaged = try compress(original, .zstd)
        checksumDamaged[checksumDamaged.count - 1] ^= 0x01  // inside zstd's XXH64 of the frame
        let served = MemorySink()
        _ = try ObjectFetcher.fetch(try store(checksumDamaged, as: name, in: target), from: target, into: served)
        #expect(served.bytes == original)

        var contentDamaged = try compress(original, .zstd)
        contentDamaged[contentDamaged.count / 2] ^= 0x55
        let other = StoredObjectName(originalName: "000000010000000000000002", sha256: name.sha256, compression: .zstd)
        let refused = try #require(throws: RepositoryError.self) {
            _ = try ObjectFetcher.fetch(try store(contentDamaged, as: other, in: target), from: target, into: MemorySink())
        }
        #expect(refused.problem.contains("wal/\(other)"), "\(refused.problem)")
    }
}
