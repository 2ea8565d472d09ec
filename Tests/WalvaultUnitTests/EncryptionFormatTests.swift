import Testing
import WalvaultPipeline
import WalvaultSystem
import WalvaultTesting

#if canImport(Glibc)
    import Glibc
#endif

/// Encrypts through EncryptStage in uneven pieces, as a compressor would feed it.
func encrypt(_ data: [UInt8], _ ring: KeyRing, exponent: Int = 10, piece: Int = 333) throws -> [UInt8] {
    let sink = MemorySink()
    let stage = try EncryptStage(key: ring.writingKey(), chunkExponent: exponent, next: sink)
    var offset = 0
    while offset < data.count {
        let n = min(piece, data.count - offset)
        try data[offset..<offset + n].withUnsafeBytes { try stage.write($0) }
        offset += n
    }
    try stage.finish()
    #expect(sink.finished)
    return sink.bytes
}

func decrypt(_ data: [UInt8], _ ring: KeyRing, readSize: Int = 4096, object: String = "obj") throws -> [UInt8] {
    var offset = 0
    let reader = DecryptingReader(object: object, keyRing: ring) { buffer in
        // Hand out at most 1000 bytes per call, so the reader must assemble chunks itself.
        let n = min(buffer.count, data.count - offset, 1000)
        data.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
        offset += n
        return n
    }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: readSize)
    while true {
        let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
        if n == 0 { break }
        out += buffer[0..<n]
    }
    return out
}

func decryptionError(_ body: () throws -> Void) -> EncryptionError? {
    do { try body() } catch let error as EncryptionError { return error } catch {
        Issue.record("expected an EncryptionError, got \(type(of: error)): \(error)")
        return nil
    }
    Issue.record("decryption succeeded where it must fail")
    return nil
}

@Suite struct EncryptionFormatTests {
    let ring = makeKeyRing()

    @Test(arguments: [0, 1, 1023, 1024, 1025, 2048, 3000, 5 * 1024 + 7])
    func roundTripsAndFramesEverySize(size: Int) throws {
        let data = sampleBytes(size, seed: UInt64(size) + 3)
        let sealed = try encrypt(data, ring)
        let chunks = max(1, (size + 1023) / 1024)
        #expect(sealed.count == EncryptionHeader.size + size + chunks * EncryptionHeader.tagSize)
        #expect(Array(sealed.prefix(8)) == Array("WALVAULT".utf8))
        for readSize in [1, 7, 4096] {
            #expect(try decrypt(sealed, ring, readSize: readSize) == data)
        }
        if size >= 16 { #expect(!contains(sealed, Array(data.prefix(16)))) }
    }

    @Test func defaultChunkSizeRoundTripAcrossSeveralChunks() throws {
        let data = sampleBytes(3 * 65536 + 17, seed: 9)
        let sealed = try encrypt(data, ring, exponent: EncryptionHeader.defaultChunkExponent, piece: 100_000)
        #expect(sealed.count == 80 + data.count + 4 * 16)
        #expect(sealed[11] == 16)
        #expect(try decrypt(sealed, ring) == data)
    }

    @Test func headerCarriesVersionAndKeyDerivationParameters() throws {
        let sealed = try encrypt([1, 2, 3], ring)
        let header = try EncryptionHeader(bytes: Array(sealed.prefix(80)))
        let key = try ring.writingKey()
        #expect(sealed[8] == 1 && sealed[9] == 1 && sealed[10] == 1)
        #expect(header.iterations == 1000)
        #expect(header.kdfSalt == key.salt)
        #expect(header.chunkExponent == 10)
        // A fresh object salt per object: the same plaintext never encrypts the same way twice.
        let again = try encrypt([1, 2, 3], ring)
        #expect(Array(again[32..<64]) != Array(sealed[32..<64]))
        #expect(again != sealed)
    }

    @Test func nonceEncodesIndexAndFinalFlag() {
        #expect(EncryptionHeader.nonce(chunk: 0, final: false) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(EncryptionHeader.nonce(chunk: 0x0102, final: true) == [0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 1])
    }

    /// 3000 bytes in 1 KiB chunks: two full chunks and a last one of 952 bytes.
    func threeChunks() throws -> (plain: [UInt8], sealed: [UInt8], chunk: (Int) -> Range<Int>) {
        let plain = sampleBytes(3000, seed: 77)
        let sealed = try encrypt(plain, ring)
        let full = 1024 + 16
        let chunk = { (i: Int) -> Range<Int> in
            let start = 80 + i * full
            return start..<min(start + full, sealed.count)
        }
        #expect(chunk(2).count == 952 + 16)
        return (plain, sealed, chunk)
    }

    @Test func everyHeaderByteIsAuthenticated() throws {
        let (_, sealed, _) = try threeChunks()
        for offset in 0..<EncryptionHeader.size {
            var tampered = sealed
            // The top byte of the iteration count: flipping its low bit would ask for 16.7 million
            // iterations (a slow but valid derivation); 0xFF is past the readers' limit.
            if offset == 12 { tampered[offset] = 0xFF } else { tampered[offset] ^= 0x01 }
            let error = decryptionError { _ = try decrypt(tampered, ring) }
            if offset < 8 {
                #expect(error?.kind == .notEncrypted, "magic byte \(offset)")
            } else {
                #expect(error?.kind == .wrongPassphraseOrDamaged || error?.kind == .unsupported, "header byte \(offset)")
            }
        }
    }

    @Test func tamperedChunksAreDetected() throws {
        let (plain, sealed, chunk) = try threeChunks()
        var cases: [(String, [UInt8])] = []
        var body = sealed; body[chunk(1).lowerBound + 10] ^= 0x80; cases.append(("a chunk body byte", body))
        var tag = sealed; tag[chunk(0).upperBound - 1] ^= 0x01; cases.append(("a tag byte", tag))
        var lastTag = sealed; lastTag[sealed.count - 1] ^= 0x01; cases.append(("the last tag byte", lastTag))
        cases.append(("truncated at a chunk boundary", Array(sealed[0..<chunk(1).upperBound])))
        cases.append(("truncated inside a chunk", Array(sealed[0..<chunk(2).lowerBound + 100])))
        cases.append(("truncated inside a tag", Array(sealed.dropLast(5))))
        cases.append(("cut after the header", Array(sealed[0..<80])))
        cases.append(("a chunk dropped", Array(sealed[0..<chunk(1).lowerBound] + sealed[chunk(2)])))
        cases.append(("chunks swapped", Array(sealed[0..<80] + sealed[chunk(1)] + sealed[chunk(0)] + sealed[chunk(2)])))
        cases.append(("a chunk appended", sealed + Array(sealed[chunk(1)])))
        cases.append(("one byte appended", sealed + [0]))
        cases.append(("the last chunk repeated", sealed + Array(sealed[chunk(2)])))
        // Splicing: another object under the same passphrase and KDF salt, but its own object key.
        let other = try encrypt(sampleBytes(3000, seed: 78), ring)
        cases.append(("another object's chunk spliced in", Array(sealed[0..<chunk(1).lowerBound] + other[chunk(1)] + sealed[chunk(2)])))
        cases.append(("another object's header", Array(other[0..<80] + sealed[80...])))
        cases.append(("two objects concatenated", sealed + other))
        for (what, bytes) in cases {
            let error = decryptionError { _ = try decrypt(bytes, ring, object: "main/wal/x in store \"s\"") }
            #expect(error?.kind == .wrongPassphraseOrDamaged, "\(what)")
            // The header's key check passed (or no header was cut): the message says it is the object, not the passphrase.
            #expect(error?.description.hasPrefix("cannot decrypt main/wal/x in store \"s\": the object is ") == true, "\(what)")
            #expect(error?.description.contains("wrong passphrase") == false, "\(what)")
            #expect(error.map { $0.description.utf8.count < 250 } == true, "\(what): \(error?.description.utf8.count ?? 0) characters")
        }
        #expect(try decrypt(sealed, ring) == plain)
    }

    @Test func anEmptyFinalChunkAfterFullOnesIsRefused() throws {
        // Only a writer with the key could make one; the framing rule still rejects it.
        let sealed = try encrypt(sampleBytes(1024, seed: 5), ring)
        #expect(sealed.count == 80 + 1024 + 16)
        #expect(
            decryptionError { _ = try decrypt(Array(sealed.dropLast(16)) + [UInt8](repeating: 0, count: 16), ring) }?.kind
                == .wrongPassphraseOrDamaged)
    }

    @Test func wrongPassphraseIsOneClearLine() throws {
        let sealed = try encrypt(sampleBytes(2000, seed: 1), ring)
        let error = decryptionError { _ = try decrypt(sealed, makeKeyRing("not the passphrase"), object: "main/archive.info in store \"local\"") }
        #expect(error?.problem == "cannot decrypt main/archive.info in store \"local\": wrong passphrase or corrupted data")
        #expect(error?.description.contains("\n") == false)
        #expect(error?.description.contains("correct horse") == false)
    }

    @Test func plaintextAndForeignBytesAreNotMistakenForCiphertext() throws {
        #expect(decryptionError { _ = try decrypt(Array("# walvault archive info".utf8), ring) }?.kind == .notEncrypted)
        #expect(decryptionError { _ = try decrypt([0x28, 0xB5, 0x2F, 0xFD, 1, 2, 3], ring) }?.kind == .notEncrypted)
        #expect(decryptionError { _ = try decrypt([], ring) }?.kind == .wrongPassphraseOrDamaged)
        #expect(decryptionError { _ = try decrypt(Array("WALV".utf8), ring) }?.kind == .wrongPassphraseOrDamaged)
        var newer = try encrypt([1], ring)
        newer[8] = 2
        let error = decryptionError { _ = try decrypt(newer, ring) }
        #expect(error?.kind == .unsupported)
        #expect(error?.description.contains("format version 2") == true)
    }

    @Test func theDefaultKeyDerivationRunsOncePerProcessNotPerObject() throws {
        let ring = makeKeyRing(iterations: KeyRing.defaultIterations)
        let objects = try (0..<4).map { try encrypt(sampleBytes(5000, seed: UInt64($0)), ring) }
        for (i, object) in objects.enumerated() {
            #expect(try decrypt(object, ring) == sampleBytes(5000, seed: UInt64(i)))
            #expect(object[12..<16].elementsEqual([0x00, 0x09, 0x27, 0xC0]))  // 600,000
        }
        #expect(ring.derivations == 1)
        // A second process (a new ring, no cache) pays once for this salt too.
        let reader = makeKeyRing(iterations: KeyRing.defaultIterations)
        #expect(try decrypt(objects[0], reader) == sampleBytes(5000, seed: 0))
        #expect(try decrypt(objects[3], reader) == sampleBytes(5000, seed: 3))
        #expect(reader.derivations == 1)
    }

    @Test func pbkdf2AndHkdfMatchPublishedTestVectors() throws {
        // RFC 7914 section 11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64), first 32 bytes.
        let pass = Array("passwd".utf8).withUnsafeBytes { SecretBytes(copying: $0) }
        let key = try KeyDerivation.pbkdf2(passphrase: pass, salt: Array("salt".utf8), iterations: 1)
        #expect(key.withUnsafeBytes { Hex.encode($0) } == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc")
        // RFC 5869 test case 1.
        let ikm = [UInt8](repeating: 0x0b, count: 22).withUnsafeBytes { SecretBytes(copying: $0) }
        let okm = try KeyDerivation.hkdf(
            key: ikm, salt: Hex.decode("000102030405060708090a0b0c")!,
            info: Hex.decode("f0f1f2f3f4f5f6f7f8f9")!, length: 42)
        #expect(okm.withUnsafeBytes { Hex.encode($0) } == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }
}
