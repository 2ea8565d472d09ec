import Testing
import WalvaultCatalog
import WalvaultPipeline
import WalvaultRepository
import WalvaultTesting

@Suite struct WALNameTests {
    @Test func segmentNameRoundTrips() {
        let name = seg("0000000200000003000000A1")
        #expect(name.timeline == 2 && name.log == 3 && name.segment == 0xA1)
        #expect(name.description == "0000000200000003000000A1")
        #expect(name.directoryName == "0000000200000003")
    }

    @Test(arguments: [
        ("0000000100000000000000FF", 16 << 20, UInt64(255)),
        ("000000010000000100000000", 16 << 20, UInt64(256)),
        ("000000010000000100000003", 64 << 20, UInt64(67)),
        ("000000010000000200000003", 1 << 30, UInt64(11))
    ])
    func segmentNumberDependsOnSegmentSize(name: String, size: Int, expected: UInt64) {
        let s = seg(name)
        #expect(s.segmentNumber(segmentSize: size) == expected)
        #expect(WALSegmentName(timeline: 1, segmentNumber: expected, segmentSize: size) == s)
    }

    @Test func segmentPartMustFitTheSegmentSize() {
        #expect(seg("000000010000000000000100").isValid(segmentSize: 16 << 20) == false)
        #expect(seg("0000000100000000000000FF").isValid(segmentSize: 16 << 20))
        #expect(seg("000000010000000000000003").isValid(segmentSize: 1 << 30) == true)
        #expect(seg("000000010000000000000004").isValid(segmentSize: 1 << 30) == false)
    }

    @Test(arguments: [
        "00000001000000000000000", "0000000100000000000000001", "00000001000000000000000g",
        "0000000100000000000000ab", "000000000000000000000001", "", "RECOVERYXLOG"
    ])
    func malformedSegmentNamesAreRefused(text: String) {
        #expect(WALSegmentName(text) == nil)
        #expect(WALFileName(text) == nil)
    }

    @Test func everyArchivedKindIsRecognised() {
        #expect(WALFileName("000000010000000000000001") == .segment(seg("000000010000000000000001")))
        #expect(WALFileName("000000020000000000000005.partial") == .partial(seg("000000020000000000000005")))
        #expect(WALFileName("00000002.history") == .history(timeline: 2))
        #expect(WALFileName("0000000A.history") == .history(timeline: 10))
        #expect(WALFileName("000000010000000000000002.00000028.backup") == .backupHistory(seg("000000010000000000000002"), offset: 0x28))
        for text in [
            "000000010000000000000001", "000000020000000000000005.partial", "00000002.history",
            "000000010000000000000002.00000028.backup"
        ] {
            #expect(WALFileName(text)?.description == text)
        }
    }

    @Test(arguments: [
        "00000000.history", "0000002.history", "0000000a.history", "000000010000000000000001.partia",
        "000000010000000000000001.done", "000000010000000000000001.ready", "000000010000000000000002.0000028.backup",
        "000000010000000000000002-00000028.backup", "archive_status", "../000000010000000000000001"
    ])
    func otherFilesAreRefused(text: String) {
        #expect(WALFileName(text) == nil)
    }
}

@Suite struct WALPageHeaderTests {
    @Test func readsIdentityFromTheLongHeader() throws {
        let bytes = makeSegment(name: seg("000000030000000100000002"), systemIdentifier: 123_456_789, segmentSize: 1 << 20)
        let header = try WALPageHeader(bytes: Array(bytes.prefix(40)))
        #expect(header.systemIdentifier == 123_456_789)
        #expect(header.segmentSize == 1 << 20)
        #expect(header.timeline == 3)
        #expect(header.postgresVersion == 15)
        #expect(header.segmentNumber == seg("000000030000000100000002").segmentNumber(segmentSize: 1 << 20))
    }

    @Test func problemsAreNamed() {
        var bytes = Array(makeSegment(name: seg("000000010000000000000001")).prefix(40))
        #expect(throws: WALPageHeader.Problem.tooShort(39)) { try WALPageHeader(bytes: Array(bytes.prefix(39))) }
        var badMagic = bytes; badMagic[0] = 0x00
        #expect(throws: WALPageHeader.Problem.unknownMagic(0xD100)) { try WALPageHeader(bytes: badMagic) }
        var short = bytes; short[2] = 0
        #expect(throws: WALPageHeader.Problem.notLongHeader) { try WALPageHeader(bytes: short) }
        bytes[32] = 1
        #expect(throws: WALPageHeader.Problem.badSegmentSize((1 << 20) + 1)) { try WALPageHeader(bytes: bytes) }
        var zeros = [UInt8](repeating: 0, count: 40)
        zeros[0] = 0
        #expect(throws: WALPageHeader.Problem.self) { try WALPageHeader(bytes: zeros) }
    }
}

@Suite struct StoredObjectNameTests {
    let sha = String(repeating: "ab", count: 32)

    @Test(arguments: CompressionAlgorithm.allCases)
    func roundTrips(algorithm: CompressionAlgorithm) {
        let name = StoredObjectName(originalName: "000000010000000000000001", sha256: sha, compression: algorithm)
        #expect(StoredObjectName(name.description) == name)
        #expect(name.description.hasPrefix(StoredObjectName.prefix(for: "000000010000000000000001")))
    }

    @Test func originalNamesMayContainDashes() {
        let name = StoredObjectName(originalName: "part-000001", sha256: sha, compression: .zstd)
        #expect(StoredObjectName(name.description) == name)
    }

    @Test func rejectsForeignNames() {
        #expect(StoredObjectName("000000010000000000000001") == nil)
        #expect(StoredObjectName("000000010000000000000001-\(sha.uppercased()).zst") == nil)
        #expect(StoredObjectName("000000010000000000000001-\(sha.dropLast()).zst") == nil)
        #expect(StoredObjectName("000000010000000000000001-\(sha).bz2") == nil)
        #expect(StoredObjectName("-\(sha).zst") == nil)
    }
}

@Suite struct ArchiveInfoTests {
    @Test func roundTrips() throws {
        let identity = ClusterIdentity(systemIdentifier: UInt64.max - 1, walSegmentSize: 16 << 20, postgresVersion: 15)
        #expect(try ArchiveInfo(decoding: ArchiveInfo(identity: identity).encoded()).identity == identity)
    }

    @Test func refusesWhatItCannotTrust() {
        #expect(throws: ArchiveInfo.DecodeProblem.notText) { try ArchiveInfo(decoding: [0xFF, 0xFE]) }
        #expect(throws: ArchiveInfo.DecodeProblem.invalid("invalid TOML")) { try ArchiveInfo(decoding: Array("format = = 1".utf8)) }
        #expect(throws: ArchiveInfo.DecodeProblem.unsupportedFormat(2)) { try ArchiveInfo(decoding: Array("format = 2".utf8)) }
        #expect(throws: ArchiveInfo.DecodeProblem.self) {
            try ArchiveInfo(decoding: Array("format = 1\nsystem_identifier = 12\n".utf8))
        }
    }
}
