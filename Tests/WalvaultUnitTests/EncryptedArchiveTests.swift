import Testing
import WalvaultCatalog
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultArchive
@testable import WalvaultKit
@testable import WalvaultMaintenance

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct EncryptedArchiveTests {
    let name = seg("000000010000000000000007")

    func push(_ context: WalvaultContext, _ path: String) throws -> ArchivePushResult {
        try ArchivePush(context: context).run(walPath: path)
    }

    func get(_ context: WalvaultContext, _ destination: String) throws -> ArchiveGetOutcome {
        var getter = ArchiveGet(context: context)
        return try getter.run(fileName: name.description, destination: destination)
    }

    func thrown(_ body: () throws -> Void) -> Error? {
        do { try body() } catch { return error }
        Issue.record("expected an error")
        return nil
    }

    @Test func everyObjectInTheStoreIsCiphertextAndComesBackIntact() throws {
        let dir = TempDir()
        let ring = makeKeyRing()
        // No compression, so that nothing but the encryption can hide the content.
        let encrypted = makeContext(stores: [dir.sub("encrypted")], algorithm: .none, keyRing: ring)
        let plain = makeContext(stores: [dir.sub("plain")], algorithm: .none)
        let bytes = makeSegment(name: name)
        let walPath = dir.write("pg_wal/\(name)", bytes)
        let history = dir.write("pg_wal/00000002.history", Array("1\t0/3000000\tbefore 2026-11-23 the marker walvault-secret-row\n".utf8))
        let result = try push(encrypted, walPath)
        _ = try push(encrypted, history)
        _ = try push(plain, walPath)
        _ = try push(plain, history)
        // The same content is recognisable in the plain store (so the check below can fail)...
        let slice = Array(bytes[4096..<4160])
        let marker = Array("walvault-secret-row".utf8)
        let plainFiles = filesUnder(Paths.join(dir.path, "plain")).map { read(Paths.join(dir.path, "plain", $0)) }
        #expect(plainFiles.contains { contains($0, slice) })
        #expect(plainFiles.contains { contains($0, marker) })
        #expect(plainFiles.contains { contains($0, Array("system_identifier".utf8)) })
        // ...and nowhere in the encrypted one, where every object starts with the header.
        let files = filesUnder(Paths.join(dir.path, "encrypted"))
        #expect(files.count == 4)
        for file in files {
            let contents = read(Paths.join(dir.path, "encrypted", file))
            #expect(Array(contents.prefix(8)) == Array("WALVAULT".utf8), "\(file)")
            #expect(!contains(contents, slice) && !contains(contents, marker), "\(file)")
            #expect(!contains(contents, Array("system_identifier".utf8)), "\(file)")
        }
        // Checksums in names are of the original bytes, so a re-send is still recognised.
        #expect(result.stored[0].object.name == "\(name)-\(StoredObjectName.stamp(result.archivedAt!))-\(SHA256Hasher.hex(of: bytes))")
        #expect(try push(encrypted, walPath).alreadyPresentIn == ["store1"])
        let destination = Paths.join(dir.sub("restore"), "RECOVERYXLOG")
        guard case .restored = try get(encrypted, destination) else { Issue.record("not restored"); return }
        #expect(read(destination) == bytes)
        #expect(ring.derivations == 1)
    }

    @Test func aWrongPassphraseStopsPushAndGetWithOneLine() throws {
        let dir = TempDir()
        let store = dir.sub("store")
        let bytes = makeSegment(name: name)
        _ = try push(makeContext(stores: [store], keyRing: makeKeyRing()), dir.write("pg_wal/\(name)", bytes))
        let wrong = makeContext(stores: [store], keyRing: makeKeyRing("wrong"))

        let destination = Paths.join(dir.sub("restore"), "RECOVERYXLOG")
        let getError = thrown { _ = try get(wrong, destination) }
        #expect("\(getError!)".contains("cannot decrypt main/wal/0000000100000000/\(name)-"))
        #expect("\(getError!)".contains("in store \"store1\": wrong passphrase or corrupted data"))
        #expect(!FileSystem.exists(destination))
        #expect(filesUnder(Paths.join(dir.path, "restore")).isEmpty)

        let next = seg("000000010000000000000008")
        let pushError = thrown { _ = try push(wrong, dir.write("pg_wal/\(next)", makeSegment(name: next))) }
        #expect(
            (pushError as? EncryptionError)?.problem == "cannot decrypt main/archive.info in store \"store1\": wrong passphrase or corrupted data")
        #expect(filesUnder(Paths.join(store, "main/wal/0000000100000000")).count == 1)
    }

    @Test func aStoreAndAConfigThatDisagreeAboutEncryptionAreExplained() throws {
        let dir = TempDir()
        let plainStore = dir.sub("plain")
        let encryptedStore = dir.sub("encrypted")
        let walPath = dir.write("pg_wal/\(name)", makeSegment(name: name))
        _ = try push(makeContext(stores: [plainStore]), walPath)
        _ = try push(makeContext(stores: [encryptedStore], keyRing: makeKeyRing()), walPath)
        let next = seg("000000010000000000000008")
        let nextPath = dir.write("pg_wal/\(next)", makeSegment(name: next))

        let intoPlain = thrown { _ = try push(makeContext(stores: [plainStore], keyRing: makeKeyRing()), nextPath) } as? EncryptionError
        #expect(intoPlain?.kind == .notEncrypted)
        #expect(intoPlain?.problem == "main/archive.info in store \"store1\" is not encrypted, but [encryption] is configured")
        let intoEncrypted = thrown { _ = try push(makeContext(stores: [encryptedStore]), nextPath) } as? EncryptionError
        #expect(intoEncrypted?.kind == .encryptedWithoutKey)
        #expect(intoEncrypted?.problem == "main/archive.info in store \"store1\" is encrypted, but no [encryption] is configured")
        #expect(filesUnder(Paths.join(plainStore, "main/wal/0000000100000000")).count == 1)
        #expect(filesUnder(Paths.join(encryptedStore, "main/wal/0000000100000000")).count == 1)

        let destination = Paths.join(dir.sub("restore"), "RECOVERYXLOG")
        let getPlain = thrown { _ = try get(makeContext(stores: [plainStore], keyRing: makeKeyRing()), destination) }
        #expect("\(getPlain!)".contains("is not encrypted, but [encryption] is configured"))
        let getEncrypted = thrown { _ = try get(makeContext(stores: [encryptedStore]), destination) }
        #expect("\(getEncrypted!)".contains("is encrypted, but no [encryption] is configured"))
        #expect(!FileSystem.exists(destination))
    }

    @Test func aDamagedInfoFileFallsBackToItsCopy() throws {
        let dir = TempDir()
        let store = dir.sub("store")
        let context = makeContext(stores: [store], keyRing: makeKeyRing())
        _ = try push(context, dir.write("pg_wal/\(name)", makeSegment(name: name)))
        let info = Paths.join(store, "main/archive.info")
        var bytes = read(info)
        bytes[bytes.count - 3] ^= 0x20
        _ = chmod(info, 0o644)
        try FileSystem.writeAtomically(info, contents: bytes)
        let next = seg("000000010000000000000008")
        let result = try push(context, dir.write("pg_wal/\(next)", makeSegment(name: next)))
        #expect(result.stored.count == 1)
    }

    @Test func aTamperedObjectInOneStoreIsReplacedByTheOtherStoresCopy() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("a"), dir.sub("b")], keyRing: makeKeyRing())
        let bytes = makeSegment(name: name)
        let result = try push(context, dir.write("pg_wal/\(name)", bytes))
        let objectPath = Paths.join(dir.path, "a", result.stored[0].object.key)
        var stored = read(objectPath)
        stored[200] ^= 0x01
        try FileSystem.writeAtomically(objectPath, contents: stored)
        var getter = ArchiveGet(context: context)
        let destination = Paths.join(dir.sub("restore"), "RECOVERYXLOG")
        guard case .restored(let store, _, _) = try getter.run(fileName: name.description, destination: destination) else {
            Issue.record("not restored"); return
        }
        #expect(store == "store2")
        #expect(read(destination) == bytes)
        #expect(getter.warnings.count == 1)
        #expect(getter.warnings[0].contains("chunk 0 fails authentication"))
    }
}

@Suite struct DecryptCommandTests {
    @Test func aStoredObjectDecryptsAndDecompressesToTheOriginal() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")], keyRing: makeKeyRing())
        let name = seg("000000010000000000000009")
        let bytes = makeSegment(name: name)
        let result = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(name)", bytes))
        let object = Paths.join(dir.path, "store", result.stored[0].object.key)
        let out = Paths.join(dir.path, "segment")
        let report = try Decrypt(context: context).run(input: object, output: out, compression: nil)
        #expect(read(out) == bytes)
        #expect(report == DecryptReport(bytes: bytes.count, compression: .zstd, verifiedSHA256: result.sha256))
        // The info file is not compressed; its name carries no checksum.
        let info = Paths.join(dir.path, "info")
        #expect(
            try Decrypt(context: context).run(input: Paths.join(dir.path, "store/main/archive.info"), output: info, compression: nil).verifiedSHA256
                == nil)
        #expect(String(decoding: read(info), as: UTF8.self).hasPrefix("# walvault archive info"))
    }

    @Test func refusalsAreOneLine() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")], keyRing: makeKeyRing())
        let name = seg("000000010000000000000009")
        let result = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(name)", makeSegment(name: name)))
        let object = Paths.join(dir.path, "store", result.stored[0].object.key)
        func failure(_ input: String, _ output: String, _ compression: CompressionAlgorithm? = nil, _ ctx: WalvaultContext? = nil) -> String {
            do {
                _ = try Decrypt(context: ctx ?? context).run(input: input, output: output, compression: compression)
                Issue.record("expected a failure")
            } catch { return "\(error)" }
            return ""
        }
        let existing = dir.write("exists", [1])
        #expect(failure(object, existing) == "\(existing) already exists; remove it or choose another --out; walvault never overwrites a file")
        #expect(read(existing) == [1])
        let plainFile = dir.write("plain.zst", [0x28, 0xB5, 0x2F, 0xFD, 0])
        #expect(failure(plainFile, Paths.join(dir.path, "o1")).hasPrefix("\(plainFile) is not a walvault-encrypted object"))
        #expect(failure(object, Paths.join(dir.path, "o2"), .gzip).contains("decrypted, but it is not gzip data"))
        #expect(
            failure(object, Paths.join(dir.path, "o3"), nil, makeContext(stores: [dir.sub("store")], keyRing: makeKeyRing("wrong")))
                .hasPrefix("cannot decrypt \(object): wrong passphrase or corrupted data; "))
        #expect(
            failure(object, Paths.join(dir.path, "o4"), nil, makeContext(stores: [dir.sub("store")]))
                .hasPrefix("walvault decrypt needs the passphrase, and /test/walvault.toml has no [encryption]"))
        let renamed = Paths.join(dir.path, "\(name)-\(String(repeating: "0", count: 64)).zst")
        try FileSystem.writeAtomically(renamed, contents: read(object))
        #expect(failure(renamed, Paths.join(dir.path, "o5")).contains("fails the checksum in its name"))
        // Nothing is left behind by any failure.
        #expect(filesUnder(dir.path).filter { $0.hasPrefix("o") || $0.hasPrefix(".o") }.isEmpty)
    }
}
