import Testing
import WalvaultArchive
import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ArchivePushTests {
    let name = seg("000000010000000000000003")

    func push(_ context: WalvaultContext, _ path: String) throws -> ArchivePushResult {
        try ArchivePush(context: context).run(walPath: path)
    }

    func get(_ context: WalvaultContext, _ file: String, _ destination: String) throws -> ArchiveGetOutcome {
        var getter = ArchiveGet(context: context)
        return try getter.run(fileName: file, destination: destination)
    }

    func commandError(_ body: () throws -> Void) -> CommandError? {
        do { try body() } catch let error as CommandError { return error } catch {
            Issue.record("expected a CommandError, got \(type(of: error)): \(error)")
        }
        return nil
    }

    @Test(arguments: CompressionAlgorithm.allCases)
    func pushThenGetGivesBackTheSameBytes(algorithm: CompressionAlgorithm) throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")], algorithm: algorithm)
        let bytes = makeSegment(name: name)
        let before = WallClock.nowMicros()
        let result = try push(context, dir.write("pg_wal/\(name)", bytes))
        #expect(result.sha256 == SHA256Hasher.hex(of: bytes))
        #expect(result.stored.count == 1)
        // The archive time walvault recorded, in the name: restore never needs the store's clock.
        let archivedAt = try #require(result.archivedAt)
        #expect(archivedAt >= before && archivedAt <= WallClock.nowMicros())
        let stamp = StoredObjectName.stamp(archivedAt)
        #expect(result.stored[0].object.key == "main/wal/0000000100000000/\(name)-\(stamp)-\(result.sha256)\(algorithm.fileExtension)")
        let destination = Paths.join(dir.sub("restore"), "RECOVERYXLOG")
        #expect(try get(context, name.description, destination) == .restored(store: "store1", object: result.stored[0].object, size: bytes.count))
        #expect(read(destination) == bytes)
        // Nothing but the object, the info pair and no leftovers.
        #expect(
            filesUnder(Paths.join(dir.path, "store")) == [
                "main/archive.info", "main/archive.info.copy", "main/wal/0000000100000000/\(name)-\(stamp)-\(result.sha256)\(algorithm.fileExtension)"
            ])
        #expect(filesUnder(Paths.join(dir.path, "restore")) == ["RECOVERYXLOG"])
    }

    @Test func sixteenMebibyteSegmentsAndOtherSizesAreAccepted() throws {
        let dir = TempDir()
        for (i, size) in [16 << 20, 64 << 20].enumerated() {
            let context = makeContext(stores: [dir.sub("store\(i)")])
            let s = WALSegmentName(timeline: 1, segmentNumber: 5, segmentSize: size)
            let bytes = makeSegment(name: s, segmentSize: size)
            _ = try push(context, dir.write("wal\(i)/\(s)", bytes))
            let out = Paths.join(dir.path, "out\(i)")
            _ = try get(context, s.description, out)
            #expect(read(out) == bytes)
        }
    }

    @Test func identicalRePushSucceedsWithoutWriting() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        let path = dir.write("pg_wal/\(name)", makeSegment(name: name))
        let first = try push(context, path)
        let before = filesUnder(Paths.join(dir.path, "store"))
        let again = try push(context, path)
        #expect(again.stored.isEmpty)
        #expect(again.alreadyPresentIn == ["store1"])
        #expect(again.sha256 == first.sha256)
        #expect(filesUnder(Paths.join(dir.path, "store")) == before)
    }

    @Test func differentContentUnderAnArchivedNameIsRefusedAndTheStoredObjectKept() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        let first = try push(context, dir.write("a/\(name)", makeSegment(name: name, seed: 1)))
        let objectPath = Paths.join(dir.path, "store", first.stored[0].object.key)
        let storedBytes = read(objectPath)
        let error = try #require(commandError { _ = try push(context, dir.write("b/\(name)", makeSegment(name: name, seed: 2))) })
        #expect(error.problem.contains("already in store \"store1\" with different content"))
        #expect(error.problem.contains("left untouched"))
        #expect(read(objectPath) == storedBytes)
        #expect(filesUnder(Paths.join(dir.path, "store")).count == 3)
    }

    @Test func segmentOfAnotherClusterIsRefused() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        _ = try push(context, dir.write("a/\(name)", makeSegment(name: name, systemIdentifier: 111)))
        let next = seg("000000010000000000000004")
        do {
            _ = try push(context, dir.write("b/\(next)", makeSegment(name: next, systemIdentifier: 222)))
            Issue.record("expected an error")
        } catch let error as CatalogError {
            #expect(error.problem.contains("WAL segment \(next) comes from a cluster with system identifier 222"))
            #expect(error.problem.contains("holds cluster \"main\" with system identifier 111"))
        }
        #expect(!filesUnder(Paths.join(dir.path, "store")).contains { $0.contains(next.description) })
    }

    @Test func truncatedSegmentIsRefused() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        let path = dir.write("pg_wal/\(name)", Array(makeSegment(name: name).prefix(500_000)))
        let error = try #require(commandError { _ = try push(context, path) })
        #expect(error.problem.contains("truncated: 500000 bytes, expected 1048576"))
        #expect(filesUnder(Paths.join(dir.path, "store")).isEmpty)
    }

    @Test func segmentWhoseHeaderContradictsItsNameIsRefused() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        let path = dir.write("pg_wal/\(name)", makeSegment(name: seg("000000010000000000000007")))
        let error = try #require(commandError { _ = try push(context, path) })
        #expect(error.problem.contains("header says it is segment 0000000000000007 but its name says 0000000000000003"))
    }

    @Test func garbageUnderASegmentNameIsRefused() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        let error = try #require(commandError { _ = try push(context, dir.write("pg_wal/\(name)", sampleBytes(1 << 20))) })
        #expect(error.problem.contains("is not a valid WAL segment"))
        let empty = try #require(commandError { _ = try push(context, dir.write("x/\(name)", [])) })
        #expect(empty.problem.contains("too short"))
    }

    @Test func unreadableOrMisnamedPathsAreRefused() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        let missing = try #require(commandError { _ = try push(context, Paths.join(dir.path, "pg_wal/\(name)")) })
        #expect(missing.problem.contains("cannot read WAL segment"))
        #expect(missing.problem.contains("No such file or directory"))
        let directory = try #require(commandError { _ = try push(context, dir.sub("000000010000000000000009")) })
        #expect(directory.problem.contains("Is a directory"))
        let notWAL = try #require(commandError { _ = try push(context, dir.write("postgresql.conf", [1, 2, 3])) })
        #expect(notWAL.problem.contains("is not a file PostgreSQL archives"))
    }

    @Test func historyAndBackupFilesRoundTrip() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        let history = Array("1\t0/3000000\tno recovery target specified\n".utf8)
        let label = Array("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n".utf8)
        _ = try push(context, dir.write("pg_wal/00000002.history", history))
        _ = try push(context, dir.write("pg_wal/000000010000000000000002.00000028.backup", label))
        _ = try get(context, "00000002.history", Paths.join(dir.path, "h"))
        _ = try get(context, "000000010000000000000002.00000028.backup", Paths.join(dir.path, "b"))
        #expect(read(Paths.join(dir.path, "h")) == history)
        #expect(read(Paths.join(dir.path, "b")) == label)
        #expect(filesUnder(Paths.join(dir.path, "store")).contains { $0.hasPrefix("main/wal/00000002.history-") })
    }

    @Test func partialSegmentRoundTripsBesideTheFullOne() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        let full = makeSegment(name: name, seed: 5)
        let partial = makeSegment(name: name, seed: 6)
        _ = try push(context, dir.write("pg_wal/\(name)", full))
        _ = try push(context, dir.write("pg_wal/\(name).partial", partial))
        _ = try get(context, name.description, Paths.join(dir.path, "f"))
        _ = try get(context, "\(name).partial", Paths.join(dir.path, "p"))
        #expect(read(Paths.join(dir.path, "f")) == full)
        #expect(read(Paths.join(dir.path, "p")) == partial)
    }

    @Test func historyFileOfAnotherClusterIsRefusedWhenPgdataIsKnown() throws {
        let dir = TempDir()
        let pgdata = dir.sub("pgdata")
        var control = [UInt8](repeating: 0, count: 8192)
        withUnsafeBytes(of: UInt64(999).littleEndian) { for (i, b) in $0.enumerated() { control[i] = b } }
        _ = dir.write("pgdata/global/pg_control", control)
        let context = makeContext(stores: [dir.sub("store")], pgdata: pgdata)
        _ = try push(context, dir.write("pg_wal/\(name)", makeSegment(name: name, systemIdentifier: 111)))
        let error = try #require(commandError { _ = try push(context, dir.write("pg_wal/00000002.history", [1])) })
        #expect(error.problem.contains("system identifier 999"))
        #expect(error.problem.contains("system identifier 111"))
    }

    @Test func missingStoreDirectoryIsAnErrorNotCreated() throws {
        let dir = TempDir()
        let storePath = Paths.join(dir.path, "not-mounted")
        let context = makeContext(stores: [storePath])
        do {
            _ = try push(context, dir.write("pg_wal/\(name)", makeSegment(name: name)))
            Issue.record("expected an error")
        } catch let error as StoreError {
            #expect(error.description.contains("store directory \(storePath) does not exist"))
        }
        #expect(!FileSystem.exists(storePath))
    }

    @Test func readOnlyStoreFailsWithOneClearLine() throws {
        let dir = TempDir()
        let store: String
        if let mounted = dir.mountTmpfs("ro-store", bytes: 1 << 20, readOnly: true) {
            store = mounted
        } else {
            store = dir.sub("ro-store")
            chmod(store, 0o555)
        }
        let context = makeContext(stores: [store])
        do {
            _ = try push(context, dir.write("pg_wal/\(name)", makeSegment(name: name)))
            Issue.record("expected an error")
        } catch let error as StoreError {
            #expect(error.description.hasPrefix("store \"store1\": cannot "))
            #expect(error.description.contains("Read-only file system") || error.description.contains("Permission denied"))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test(.enabled(if: geteuid() == 0, "mounting a tiny tmpfs needs root"))
    func fullDiskLeavesNoPartialObjectAndTheNextPushWorksOnceThereIsRoom() throws {
        let dir = TempDir()
        let store = try #require(dir.mountTmpfs("tiny-store", bytes: 256 * 1024))
        let context = makeContext(stores: [store], algorithm: .none)
        let path = dir.write("pg_wal/\(name)", makeSegment(name: name))
        do {
            _ = try push(context, path)
            Issue.record("expected an error")
        } catch let error as StoreError {
            #expect(error.description.contains("No space left on device"))
            #expect(error.description.contains("free space"))
        }
        #expect(filesUnder(store).allSatisfy { $0.hasSuffix("archive.info") || $0.hasSuffix("archive.info.copy") })
        // With room (zstd shrinks it below the limit), the same segment archives.
        let roomy = makeContext(stores: [store], algorithm: .zstd)
        let small = dir.write("pg_wal2/\(name)", Array(makeSegment(name: name).prefix(64)) + [UInt8](repeating: 0, count: (1 << 20) - 64))
        _ = try push(roomy, small)
    }
}

@Suite struct ArchiveGetTests {
    let name = seg("000000010000000000000003")

    func setUp(_ dir: TempDir, stores: Int = 1) throws -> (WalvaultContext, [UInt8], ArchivePushResult) {
        let context = makeContext(stores: (1...stores).map { dir.sub("store\($0)") })
        let bytes = makeSegment(name: name)
        let result = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(name)", bytes))
        return (context, bytes, result)
    }

    @Test func fileInNoStoreIsNotArchivedAndNothingIsWritten() throws {
        let dir = TempDir()
        let (context, _, _) = try setUp(dir)
        var getter = ArchiveGet(context: context)
        let destination = Paths.join(dir.path, "RECOVERYXLOG")
        #expect(try getter.run(fileName: "000000010000000000000004", destination: destination) == .notArchived)
        #expect(try getter.run(fileName: "00000002.history", destination: destination) == .notArchived)
        #expect(!FileSystem.exists(destination))
    }

    @Test func emptyStoreIsNotArchived() throws {
        let dir = TempDir()
        var getter = ArchiveGet(context: makeContext(stores: [dir.sub("store")]))
        #expect(try getter.run(fileName: name.description, destination: Paths.join(dir.path, "x")) == .notArchived)
    }

    @Test func corruptedObjectIsNeverHandedOver() throws {
        let dir = TempDir()
        let (context, _, result) = try setUp(dir)
        let objectPath = Paths.join(dir.path, "store1", result.stored[0].object.key)
        var bytes = read(objectPath)
        bytes[bytes.count / 2] ^= 0xFF
        _ = dir.write("store1/" + result.stored[0].object.key, bytes)
        let destination = Paths.join(dir.path, "RECOVERYXLOG")
        var getter = ArchiveGet(context: context)
        do {
            _ = try getter.run(fileName: name.description, destination: destination)
            Issue.record("expected an error")
        } catch let error as ArchiveGetFailure {
            #expect(error.description.contains(result.stored[0].object.key))
            #expect(error.description.contains("store \"store1\""))
        }
        #expect(!FileSystem.exists(destination))
        #expect(filesUnder(dir.path).allSatisfy { !$0.hasSuffix(".walvault-tmp") })
    }

    /// WAL objects carry no zstd frame checksum: their name's SHA-256 is what every read checks
    /// (objectWithIntactCompressionButWrongChecksumIsRefused shows a valid frame of other bytes refused).
    @Test func aWALObjectCarriesNoZstdFrameChecksum() throws {
        let dir = TempDir()
        let (context, bytes, result) = try setUp(dir)
        let stored = read(Paths.join(dir.path, "store1", result.stored[0].object.key))
        #expect(Array(stored.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD])
        #expect(stored[4] & 0x04 == 0, "Content_Checksum_flag of the frame header descriptor")
        var getter = ArchiveGet(context: context)
        let destination = Paths.join(dir.path, "out")
        _ = try getter.run(fileName: name.description, destination: destination)
        #expect(read(destination) == bytes)
    }

    @Test func objectWithIntactCompressionButWrongChecksumIsRefused() throws {
        let dir = TempDir()
        let (context, _, result) = try setUp(dir)
        // Replace the object with a valid zstd stream of other bytes under the same name.
        let other = try compress(makeSegment(name: name, seed: 99), .zstd)
        _ = dir.write("store1/" + result.stored[0].object.key, other)
        var getter = ArchiveGet(context: context)
        do {
            _ = try getter.run(fileName: name.description, destination: Paths.join(dir.path, "out"))
            Issue.record("expected an error")
        } catch let error as ArchiveGetFailure {
            #expect(error.description.contains("fails its checksum"))
        }
        #expect(!FileSystem.exists(Paths.join(dir.path, "out")))
    }

    @Test func aGoodCopyInTheNextStoreIsUsedAndTheBadOneReported() throws {
        let dir = TempDir()
        let (context, bytes, result) = try setUp(dir, stores: 2)
        _ = dir.write("store1/" + result.stored[0].object.key, Array(read(Paths.join(dir.path, "store1", result.stored[0].object.key)).prefix(1000)))
        var getter = ArchiveGet(context: context)
        let destination = Paths.join(dir.path, "out")
        guard case .restored(let store, _, _) = try getter.run(fileName: name.description, destination: destination) else {
            Issue.record("expected a restore"); return
        }
        #expect(store == "store2")
        #expect(read(destination) == bytes)
        #expect(getter.warnings.count == 1)
        #expect(getter.warnings[0].contains("truncated"))
    }

    @Test func nonWALNamesAreRefused() {
        var getter = ArchiveGet(context: makeContext(stores: ["/nonexistent"]))
        #expect(throws: CommandError.self) { _ = try getter.run(fileName: "RECOVERYXLOG", destination: "/tmp/x") }
        #expect(throws: CommandError.self) { _ = try getter.run(fileName: "../000000010000000000000001", destination: "/tmp/x") }
    }

    @Test func missingStoreDirectoryIsAFailureNotAMissingFile() throws {
        let dir = TempDir()
        var getter = ArchiveGet(context: makeContext(stores: [Paths.join(dir.path, "gone")]))
        #expect(throws: ArchiveGetFailure.self) { _ = try getter.run(fileName: name.description, destination: Paths.join(dir.path, "x")) }
    }

    @Test func archiveInfoCopyStandsInForALostOriginal() throws {
        let dir = TempDir()
        let (context, _, _) = try setUp(dir)
        try FileSystem.remove(Paths.join(dir.path, "store1/main/archive.info"))
        _ = dir.write("store1/main/archive.info.copy", Array("garbage".utf8) + [])
        _ = dir.write(
            "store1/main/archive.info.copy",
            ArchiveInfo(
                identity: ClusterIdentity(
                    systemIdentifier: 7_000_000_000_000_000_001, walSegmentSize: 1 << 20, postgresVersion: 15)
            ).encoded())
        let next = seg("000000010000000000000004")
        _ = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(next)", makeSegment(name: next)))
        // The lost original is written again from the copy; then a lost copy from the original.
        #expect(filesUnder(Paths.join(dir.path, "store1/main")).contains("archive.info"))
        try FileSystem.remove(Paths.join(dir.path, "store1/main/archive.info.copy"))
        let third = seg("000000010000000000000005")
        _ = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(third)", makeSegment(name: third)))
        #expect(read(Paths.join(dir.path, "store1/main/archive.info.copy")) == read(Paths.join(dir.path, "store1/main/archive.info")))
    }

    @Test func disagreeingInfoFilesAreRefused() throws {
        let dir = TempDir()
        let (context, _, _) = try setUp(dir)
        _ = dir.write(
            "store1/main/archive.info.copy",
            ArchiveInfo(
                identity: ClusterIdentity(
                    systemIdentifier: 5, walSegmentSize: 1 << 20, postgresVersion: 15)
            ).encoded())
        let next = seg("000000010000000000000004")
        #expect(throws: CatalogError.self) {
            _ = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(next)", makeSegment(name: next)))
        }
    }
}
