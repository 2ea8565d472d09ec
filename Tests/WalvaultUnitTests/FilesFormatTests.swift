import Testing
import WalvaultCatalog
import WalvaultConfig
import WalvaultPipeline
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultFiles

/// The parts of files backup that need no store: where chunks are cut, how snapshots and chunk
/// tables are written and read back, the walk's order, exclusion, and the restore's destination.
@Suite struct FilesFormatTests {
    /// A repeatable stream of bytes that do not repeat (xorshift), so every cut is the same every run.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        var result = [UInt8](repeating: 0, count: count)
        for index in 0..<count {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            result[index] = UInt8(truncatingIfNeeded: state >> 24)
        }
        return result
    }

    static let small = ContentChunker.Sizes(minimum: 2 << 10, normal: 8 << 10, maximum: 32 << 10)

    /// Cuts `data`, fed in pieces of `piece` bytes. - Returns: each chunk's length.
    static func cuts(_ data: [UInt8], gear: GearTable = .unkeyed, sizes: ContentChunker.Sizes = small, piece: Int = 4096) -> [Int] {
        var chunker = ContentChunker(gear: gear, sizes: sizes)
        var lengths: [Int] = []
        var current = 0
        data.withUnsafeBytes { all in
            var start = 0
            while start < all.count {
                var rest = UnsafeRawBufferPointer(rebasing: all[start..<min(all.count, start + piece)])
                start += rest.count
                while !rest.isEmpty {
                    if let cut = chunker.cut(rest) {
                        lengths.append(current + cut)
                        current = 0
                        rest = UnsafeRawBufferPointer(rebasing: rest[cut...])
                    } else {
                        current += rest.count
                        break
                    }
                }
            }
        }
        if current > 0 { lengths.append(current) }
        return lengths
    }

    @Test func chunksStayWithinTheirLimitsAndAverageNearTheNormalSize() {
        let data = Self.bytes(2 << 20, seed: 7)
        let lengths = Self.cuts(data)
        #expect(lengths.reduce(0, +) == data.count)
        #expect(lengths.dropLast().allSatisfy { $0 >= Self.small.minimum && $0 <= Self.small.maximum })
        let average = data.count / lengths.count
        #expect(average > Self.small.normal / 2 && average < Self.small.normal * 2, "average \(average)")
    }

    @Test func cutsDoNotDependOnHowTheBytesArrive() {
        let data = Self.bytes(600 << 10, seed: 11)
        let whole = Self.cuts(data, piece: data.count)
        #expect(Self.cuts(data, piece: 1) == whole)
        #expect(Self.cuts(data, piece: 4093) == whole)
        #expect(whole.count > 20)
    }

    @Test func anInsertionAtTheFrontMovesOnlyTheFirstCut() {
        let data = Self.bytes(1 << 20, seed: 3)
        let before = Self.cuts(data)
        let after = Self.cuts([0x5A] + data)
        #expect(after.first == before.first! + 1)
        #expect(Array(after.dropFirst()) == Array(before.dropFirst()))
    }

    @Test func aChangedByteInTheMiddleChangesOneOrTwoChunks() {
        var data = Self.bytes(1 << 20, seed: 5)
        let before = Self.cuts(data)
        data[data.count / 2] ^= 0xFF
        let after = Self.cuts(data)
        var ends: Set<Int> = []
        var total = 0
        for length in before {
            total += length
            ends.insert(total)
        }
        total = 0
        var moved = 0
        for length in after {
            total += length
            if !ends.contains(total) { moved += 1 }
        }
        #expect(moved <= 2)
        #expect(after.count >= before.count - 2)
    }

    @Test func aSecretSeedCutsElsewhere() {
        let data = Self.bytes(1 << 20, seed: 9)
        #expect(Self.cuts(data, gear: GearTable(seed: Array("one repository".utf8))) != Self.cuts(data))
        #expect(GearTable(seed: [1, 2, 3]) == GearTable(seed: [1, 2, 3]))
        #expect(GearTable(seed: [1, 2, 3]) != GearTable(seed: [1, 2, 4]))
    }

    @Test func aChunkIsNeverLongerThanTheMaximumEvenWithoutACut() {
        let zeros = [UInt8](repeating: 0, count: 200 << 10)
        let lengths = Self.cuts(zeros)
        #expect(lengths.dropLast().allSatisfy { $0 == Self.small.maximum })
    }

    @Test func chunkNamesAreSHA256WithoutAKeyAndHMACWithOne() throws {
        let data = Array("the same chunk".utf8)
        let plain = data.withUnsafeBytes { ChunkKeys.unkeyed.id(of: $0) }
        #expect(Hex.encode(plain) == SHA256Hasher.hex(of: data))
        let passphrase = Array("pass".utf8)
        let ring = KeyRing(passphrase: passphrase.withUnsafeBytes { SecretBytes(copying: $0) }, iterations: 1000, cache: nil)
        let keyed = try ChunkKeys.derive(keyRing: ring, repository: "main")
        let named = data.withUnsafeBytes { keyed.id(of: $0) }
        #expect(named != plain && named.count == 32)
        #expect(keyed.isKeyed && !ChunkKeys.unkeyed.isKeyed)
        #expect(try ChunkKeys.derive(keyRing: ring, repository: "main").id(of: data.withUnsafeBytes { $0 }) == named)
        #expect(try ChunkKeys.derive(keyRing: ring, repository: "other").gear != keyed.gear)
    }

    static func sampleEntries() -> [TreeEntry] {
        var root = TreeEntry(kind: .directory, path: [], mode: 0o755, mtime: 1_700_000_000_123_456_789)
        root.uid = 33
        var file = TreeEntry(kind: .file, path: Array("a/b c\n".utf8) + [0xFF, 0xFE], mode: 0o640, uid: 1000, gid: 1000, mtime: -5)
        file.size = 3_000_000_000
        file.ctime = 1_700_000_000_000_000_001
        file.inode = 123_456_789_012
        file.inconsistent = true
        file.sha256 = Array(repeating: 7, count: 32)
        file.chunks = [0, 1, 1, 0]
        var link = TreeEntry(kind: .symlink, path: Array("a/link".utf8), mode: 0o777, mtime: 0)
        link.target = [0x2E, 0x2E, 0x2F, 0xC3]
        return [root, file, link]
    }

    static func sampleTable() -> ChunkTable {
        var table = ChunkTable()
        table.add(id: ChunkID(Array(repeating: 1, count: 32)), pack: "p1.pack", offset: 0, storedLength: 10, length: 20)
        table.add(id: ChunkID(Array(repeating: 2, count: 32)), pack: "p2.pack", offset: 1 << 33, storedLength: 5, length: 9)
        return table
    }

    static func encodedSnapshot() throws -> [UInt8] {
        let header = FileSnapshot.Header(name: "uploads", id: "20261205T030000Z", time: 1, root: "/srv/app", files: 1, chunkNames: "sha256")
        var bytes = try FileSnapshot.encodeStart(header: header, table: sampleTable())
        var writer = BinaryWriter()
        for entry in sampleEntries() { entry.encode(into: &writer) }
        bytes += writer.bytes + FileSnapshot.encodeEnd()
        return bytes
    }

    @Test func aSnapshotReadsBackEntryForEntryWithNamesThatAreNotText() throws {
        let reader = BinaryReader(bufferSize: 7, pull: BinaryReader(bytes: try Self.encodedSnapshot()).pullForTests)
        let (header, table) = try FileSnapshot.decodeStart(from: reader)
        #expect(header.name == "uploads" && header.root == "/srv/app")
        #expect(table == Self.sampleTable())
        var entries: [TreeEntry] = []
        while let entry = try FileSnapshot.nextEntry(from: reader, chunkCount: table.count) { entries.append(entry) }
        #expect(entries == Self.sampleEntries())
    }

    @Test func aSnapshotCutShortOrWithBytesAfterItsEndIsRefused() throws {
        let bytes = try Self.encodedSnapshot()
        for cut in [bytes.count - 1, bytes.count - 9, bytes.count / 2] {
            let reader = BinaryReader(bytes: Array(bytes.prefix(cut)))
            #expect(throws: BinaryDecodingError.self) {
                let (_, table) = try FileSnapshot.decodeStart(from: reader)
                while try FileSnapshot.nextEntry(from: reader, chunkCount: table.count) != nil {}
            }
        }
        let longer = BinaryReader(bytes: bytes + [0])
        let (_, table) = try FileSnapshot.decodeStart(from: longer)
        #expect(throws: BinaryDecodingError("bytes follow its end")) {
            while try FileSnapshot.nextEntry(from: longer, chunkCount: table.count) != nil {}
        }
        #expect(throws: BinaryDecodingError("it is not a walvault file snapshot")) {
            _ = try FileSnapshot.decodeStart(from: BinaryReader(bytes: Array("WVFSNAP2".utf8) + bytes.dropFirst(8)))
        }
    }

    @Test func anEntryThatNamesAChunkOutsideTheTableOrAPathOutsideTheTreeIsRefused() throws {
        var file = TreeEntry(kind: .file, path: Array("x".utf8), mode: 0o600, mtime: 0)
        file.sha256 = Array(repeating: 0, count: 32)
        file.chunks = [2]
        var writer = BinaryWriter()
        file.encode(into: &writer)
        #expect(throws: BinaryDecodingError("a file names chunk 2 of 2")) {
            _ = try FileSnapshot.nextEntry(from: BinaryReader(bytes: writer.bytes), chunkCount: 2)
        }
        for path in ["../etc/passwd", "a/../../b", "/abs", "a//b", "./a"] {
            var escaping = TreeEntry(kind: .directory, path: Array(path.utf8), mode: 0o700, mtime: 0)
            escaping.path = Array(path.utf8)
            var w = BinaryWriter()
            escaping.encode(into: &w)
            #expect(throws: BinaryDecodingError("an entry's path is not a relative path")) {
                _ = try FileSnapshot.nextEntry(from: BinaryReader(bytes: w.bytes), chunkCount: 0)
            }
        }
    }

    @Test func theWalkOrderPutsADirectoryBeforeItsContentsAndThoseBeforeLongerSiblings() {
        let walked = ["", "a", "a/b", "a/b/z", "a-b", "a.c", "b"].map { Array($0.utf8) }
        for (index, path) in walked.enumerated() {
            for later in walked[(index + 1)...] {
                #expect(TreePath.precedes(path, later), "\(String(decoding: path, as: UTF8.self)) before \(String(decoding: later, as: UTF8.self))")
                #expect(!TreePath.precedes(later, path))
            }
            #expect(!TreePath.precedes(path, path))
        }
    }

    @Test func thePrefetchListsTheNextDirectoryFirstAndSkipsOnlyWhatTheWalkHasPassed() {
        var pending: [[UInt8]] = []
        for path in ["b", "a/c", "a", "a-b", "a/b"].map({ Array($0.utf8) }) { DirectoryPrefetch.insert(path, into: &pending) }
        #expect(pending.reversed().map { String(decoding: $0, as: UTF8.self) } == ["a", "a/b", "a/c", "a-b", "b"])
        func passed(_ directory: String, walking: String) -> Bool {
            DirectoryPrefetch.passed(Array(directory.utf8), walking: Array(walking.utf8))
        }
        #expect(passed("a/b", walking: "a/c") && passed("a/b/x", walking: "a/c"))
        #expect(!passed("", walking: "a/c") && !passed("a", walking: "a/c"), "an ancestor of the walk's directory still has children ahead")
        #expect(!passed("a/c", walking: "a/c") && !passed("a/d", walking: "a/c") && !passed("a/c/x", walking: "a/c"))
        #expect(passed("a", walking: "a-b") && passed("a", walking: "ab/x"))
    }

    @Test func aWalkWithThePrefetchMeetsTheSameEntriesAsOneWithout() throws {
        let root = TempDir()
        for d in 0..<30 {
            for e in 0..<3 {
                for f in 0..<4 { _ = root.write("d\(d)/e\(e)/f\(f)", Array("\(d) \(e) \(f)".utf8)) }
            }
        }
        _ = root.sub("cache/deep")
        let exclude = try ExcludeRules(["cache/"], tree: "t")
        func walked(threads: Int) throws -> [String] {
            var walker = TreeWalker(root: root.path, exclude: exclude, tree: "t")
            walker.prefetchThreads = threads
            var paths: [String] = []
            try walker.walk({ paths.append(TreePath.shown($0.path)) }, warn: { Issue.record("\($0)") }, cancellation: Cancellation())
            return paths
        }
        let alone = try walked(threads: 0)
        #expect(alone.count == 1 + 30 + 90 + 360)
        #expect(!alone.contains { $0.hasPrefix("cache") })
        for _ in 0..<5 { #expect(try walked(threads: 4) == alone) }
    }

    /// Chunks of a large file written in any order, at any offset, from memory placed as the
    /// pack reader places it (or not): whole pages go past the page cache, the pieces at either
    /// end through it, and the file reads back byte for byte.
    @Test func aLargeFileWrittenChunkByChunkPastThePageCacheReadsBackExactly() throws {
        let dir = TempDir()
        let size = 5 << 20 + 1234
        var content = [UInt8](repeating: 0, count: size)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<size {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            content[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
        // Cuts: small, large, unaligned and aligned, as content-defined chunking makes them.
        let cuts = [0, 100, 300_000, 4096 * 200, 4096 * 200 + 700_001, 3 << 20, 3 << 20 + 5, size]
        let ids = (0..<(cuts.count - 1)).map { ChunkID([UInt8](repeating: UInt8($0), count: 32)) }
        var entry = TreeEntry(kind: .file, path: Array("big.bin".utf8), mode: 0o640, mtime: 1_700_000_000_000_000_000)
        entry.size = size
        entry.sha256 = TreeEntry.digest(of: ids)
        let writer = TreeWriter(root: dir.path, force: false)
        _ = try writer.create(TreeEntry(kind: .directory, path: [], mode: 0o750, mtime: 0), parentsOf: [], chunkIDs: [])
        let file = try #require(try writer.create(entry, parentsOf: [], chunkIDs: ids))
        let align = TreeWriter.directAlignment
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: (4 << 20) + align, alignment: align)
        defer { buffer.deallocate() }
        var open = TreeWriter.OpenFile()
        for (number, index) in [3, 0, 5, 1, 6, 4, 2].enumerated() {
            let (start, end) = (cuts[index], cuts[index + 1])
            // Every other chunk placed in memory as the pack reader places it, the others one byte off.
            let shift = (start % align + (number % 2)) % align
            let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[shift..<(shift + end - start)])
            content.withUnsafeBytes { bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
            try writer.write(UnsafeRawBufferPointer(bytes), file: file, offset: start, through: &open)
        }
        open = TreeWriter.OpenFile()
        try writer.finish(cancellation: Cancellation())
        #expect(try FileSystem.readSmallFile(dir.path + "/big.bin", limit: size + 1) == content)
        #expect(try FileSystem.listDirectory(dir.path) == ["big.bin"])
    }

    @Test func pathsAreShownWithTheirOddBytesEscaped() {
        #expect(TreePath.shown(Array("a/b c".utf8)) == "a/b c")
        #expect(TreePath.shown(Array("new\nline".utf8)) == "new\\x0aline")
        #expect(TreePath.shown([0x61, 0xFF, 0x62]) == "a\\xffb")
        #expect(TreePath.shown(Array("é".utf8)) == "é")
    }

    @Test func excludePatternsMatchLikeGitignore() throws {
        let rules = try ExcludeRules(["*.tmp", "cache/", "/build", "logs/**/*.gz", "docs/private"], tree: "t")
        func out(_ path: String, dir: Bool = false) -> Bool { rules.excludes(Array(path.utf8), isDirectory: dir) }
        #expect(out("x.tmp") && out("a/b/x.tmp"))
        #expect(out("cache", dir: true) && out("a/cache", dir: true) && !out("cache"))
        #expect(out("build", dir: true) && !out("a/build", dir: true))
        #expect(out("logs/2026/12/app.gz") && !out("logs/app.log"))
        #expect(out("docs/private", dir: true) && !out("a/docs/private", dir: true))
        #expect(!out("keep.txt") && !out(""))
        #expect(throws: (any Error).self) { _ = try ExcludeRules(["!keep.tmp"], tree: "t") }
        #expect(throws: (any Error).self) { _ = try ExcludeRules(["/"], tree: "t") }
    }

    @Test func restoreGoesIntoAnEmptyOrNewDirectoryAndForceStillRefusesTheDangerousOnes() throws {
        typealias D = FilesDestination
        #expect(try D.decide(D.Contents(), path: "/r", force: false) == .create)
        var contents = D.Contents()
        contents.exists = true
        #expect(try D.decide(contents, path: "/r", force: false) == .use)
        contents.isEmpty = false
        #expect(throws: (any Error).self) { _ = try D.decide(contents, path: "/r", force: false) }
        #expect(try D.decide(contents, path: "/r", force: true) == .use)
        for change in [{ (c: inout D.Contents) in c.isFileSystemRoot = true }, { $0.mountsBelow = ["mnt"] }, { $0.isDataDirectory = true }] {
            var dangerous = contents
            change(&dangerous)
            #expect(throws: (any Error).self) { _ = try D.decide(dangerous, path: "/r", force: true) }
        }
        var file = D.Contents()
        file.exists = true
        file.isDirectory = false
        #expect(throws: (any Error).self) { _ = try D.decide(file, path: "/r", force: true) }
    }

    @Test func aRestoreOfOnePathSelectsItItsContentsAndTheDirectoriesAboveIt() throws {
        let selection = Array("a/b".utf8)
        #expect(FilesRestore.selects(Array("a/b".utf8), selection))
        #expect(FilesRestore.selects(Array("a/b/c".utf8), selection))
        #expect(FilesRestore.selects(Array("a".utf8), selection))
        #expect(FilesRestore.selects([], selection))
        #expect(!FilesRestore.selects(Array("a/bc".utf8), selection))
        #expect(!FilesRestore.selects(Array("a/c".utf8), selection))
        #expect(throws: (any Error).self) { _ = try FilesRestore.selection("../x") }
        #expect(try FilesRestore.selection("/a/b/") == selection)
    }

    @Test func storageEntriesAreCheckedKeyByKey() throws {
        let base = "[cluster]\nname = \"m\"\n[[stores]]\nname = \"l\"\ntype = \"local\"\npath = \"/s\"\n"
        let config = try ConfigLoader.parse(base + "[[storage]]\nname = \"uploads\"\npath = \"/srv/up\"\nexclude = [\"*.tmp\"]\n", path: "/c")
        #expect(config.storage == [StorageSettings(name: "uploads", path: "/srv/up", exclude: ["*.tmp"])])
        #expect(try ConfigLoader.parse(base, path: "/c").storage.isEmpty)
        for (text, key) in [
            ("[[storage]]\nname = \"u\"\npath = \"rel\"\n", "storage #1.path"),
            ("[[storage]]\npath = \"/x\"\n", "storage #1.name"),
            ("[[storage]]\nname = \"u\"\npath = \"/x\"\nexclude = \"*.tmp\"\n", "storage #1.exclude"),
            ("[[storage]]\nname = \"u\"\npath = \"/x\"\nexclude = [1]\n", "storage #1.exclude"),
            ("[[storage]]\nname = \"u\"\npath = \"/x\"\n[[storage]]\nname = \"u\"\npath = \"/y\"\n", "storage #2.name"),
            ("[[storage]]\nname = \"u\"\npath = \"/x\"\nexlude = []\n", "storage #1.exlude"),
            ("[[storage]]\nname = \"a b\"\npath = \"/x\"\n", "storage #1.name"),
            ("[storage]\nname = \"u\"\n", "storage")
        ] {
            do {
                _ = try ConfigLoader.parse(base + text, path: "/c")
                Issue.record("accepted \(text)")
            } catch let error as ConfigError {
                #expect(error.key == key, "\(text)")
            }
        }
    }
}

extension BinaryReader {
    /// Its bytes as a pull source, for readers with a small buffer.
    var pullForTests: (UnsafeMutableRawBufferPointer) throws -> Int {
        { buffer in
            var count = 0
            while count < buffer.count, !(try self.isAtEnd()) {
                buffer[count] = try self.byte()
                count += 1
            }
            return count
        }
    }
}
