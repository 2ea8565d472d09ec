import Foundation
import Testing
import WalvaultPipeline
import WalvaultTesting

#if canImport(Glibc)
    import Glibc
#endif

/// walvault files backup, list and restore (issue 30) against a local store and moto (signatures
/// checked), encrypted: a tree with ten thousand files, odd names, symlinks, modes and an excluded
/// cache; 1 % changed and a byte inserted at the front of its largest file; both snapshots
/// restored byte-exact, with modes and mtimes, from each store; history rows of type storage;
/// nothing of the tree's names or content readable in any stored object.
@Suite(.serialized) struct FilesBackupTests {
    static let passphraseMarker = "FILES-PASSPHRASE-MARKER-5521"
    static let contentMarker = "FILE-CONTENT-MARKER-"
    static let nameMarker = "NAME-MARKER-uploads"

    struct Rig {
        let ws: Workspace
        let store: String
        let tree: String
        let config: String
        let cluster: PostgresCluster
        let server: S3TestServer

        init() throws {
            ws = try Workspace()
            store = try ws.mkdir("store")
            tree = try ws.mkdir("tree")
            server = try S3TestServer.get()
            let prefix = "files-\(UUID().uuidString.prefix(8).lowercased())"
            let keyFile = try ws.write("s3-key-id", server.accessKeyID + "\n")
            let secretFile = try ws.write("s3-secret", server.secretAccessKey + "\n")
            let passphraseFile = try ws.write("passphrase", FilesBackupTests.passphraseMarker + "\n")
            cluster = PostgresCluster(workspace: ws, name: "pgdata")
            config = try ws.config(
                stores: [store],
                extra: """
                    spool = "\(try ws.mkdir("spool"))"
                    [encryption]
                    passphrase_file = "\(passphraseFile)"
                    key_cache = "off"
                    [history]
                    conninfo = "host=\(ws.path) port=\(cluster.port) user=postgres dbname=postgres"
                    project_id = "files"
                    [retention]
                    days = 1
                    [[storage]]
                    name = "uploads"
                    path = "\(tree)"
                    exclude = ["*.tmp", "cache/"]
                    """,
                storeSections: """
                    [[stores]]
                    name = "local"
                    type = "local"
                    path = "\(store)"

                    \(server.storeSection(prefix: prefix, keyFile: keyFile, secretFile: secretFile))
                    """)
            try cluster.initdb(settings: [:])
            try ws.giveToPostgres()
            for secret in ["passphrase", "s3-key-id", "s3-secret", "walvault.toml"] { chmod(ws.file(secret), 0o600) }
            try cluster.start()
        }

        func walvault(_ arguments: [String]) throws -> ProcessResult {
            let result = try ws.walvault(["--config", config] + arguments, asPostgres: true)
            for secret in [FilesBackupTests.passphraseMarker, server.secretAccessKey] {
                #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "a secret in the output of \(arguments)")
            }
            return result
        }
    }

    /// Writes `bytes` at a path given as bytes (names that are not UTF-8 included).
    static func write(_ path: [UInt8], _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let fd = (path + [0]).withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_TRUNC, mode) }
        }
        guard fd >= 0 else { throw TestFailure("cannot create \(String(decoding: path, as: UTF8.self))") }
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        fchmod(fd, mode)
        close(fd)
    }

    /// 24 MiB that do not repeat and are the same every run (AES-CTR of zeros), so its cuts are too.
    static func writeLargeFile(_ path: String) throws {
        let made = try run(
            "/bin/sh",
            [
                "-c",
                "openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 0 -nosalt -in /dev/zero 2>/dev/null | head -c 25165824 > '\(path)'"
            ])
        guard made.status == 0 else { throw TestFailure("cannot write \(path): \(made.stderr)") }
    }

    /// The tree: 10,000 small files in 100 directories (some empty, each with a content marker), a
    /// 24 MiB file, odd names, symlinks of three kinds, modes, an old mtime with nanoseconds, an
    /// empty directory, and what the excludes leave out.
    static func makeTree(_ root: String) throws {
        var state: UInt64 = 42
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        // The small files' bytes are slices of one blob that does not repeat: the large file.
        try writeLargeFile("\(root)/big.bin")
        let blob = readBytes(Array("\(root)/big.bin".utf8))
        var offset = 0
        for d in 0..<20 {
            for e in 0..<5 {
                let dir = "\(root)/dir \(d)/sub\(e)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                for f in 0..<100 {
                    let n = (d * 5 + e) * 100 + f
                    var bytes = n % 97 == 0 ? [] : Array("\(contentMarker)\(n)\n".utf8)
                    if !bytes.isEmpty {
                        let length = Int(next() % 12_000)
                        bytes += blob[(blob.startIndex + offset)..<(blob.startIndex + offset + length)]
                        offset = (offset + length + 4096) % (16 << 20)
                    }
                    try write(Array("\(dir)/file-\(f).dat".utf8), bytes)
                }
            }
        }
        try write(Array("\(root)/with space and \(nameMarker).txt".utf8), Array("spaces\n".utf8), mode: 0o600)
        try write(Array("\(root)/new\nline.txt".utf8), Array("newline\n".utf8))
        try write(Array("\(root)/".utf8) + [0xFF, 0xFE, 0x41] + Array(".bin".utf8), [1, 2, 3])
        try write(Array("\(root)/ünïcode.txt".utf8), Array("ü\n".utf8))
        try write(Array("\(root)/run.sh".utf8), Array("#!/bin/sh\necho hi\n".utf8), mode: 0o755)
        try FileManager.default.createDirectory(atPath: "\(root)/empty dir", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(root)/private", withIntermediateDirectories: true)
        chmod("\(root)/private", 0o750)
        try write(Array("\(root)/private/secret.txt".utf8), Array("kept\n".utf8), mode: 0o400)
        symlink("big.bin", "\(root)/link-relative")
        symlink("/etc/hostname", "\(root)/link-absolute")
        symlink("nowhere/at/all", "\(root)/link-dangling")
        try write(Array("\(root)/scratch.tmp".utf8), Array("excluded".utf8))
        try FileManager.default.createDirectory(atPath: "\(root)/cache/deep", withIntermediateDirectories: true)
        try write(Array("\(root)/cache/deep/x.dat".utf8), Array("excluded".utf8))
        var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 123_456_789), timespec(tv_sec: 1_000_000_000, tv_nsec: 123_456_789)]
        _ = utimensat(AT_FDCWD, "\(root)/ünïcode.txt", &times, 0)
    }

    /// Every entry under `root`, by its path bytes (escaped): kind, mode, size, mtime in ns, and
    /// the SHA-256 of a file or a symlink's target. Walked with readdir and lstat on bytes.
    static func describe(_ root: String, leaving: Set<String> = []) -> [String: String] {
        var result: [String: String] = [:]
        func walk(_ dir: [UInt8], _ relative: String) {
            guard let stream = (dir + [0]).withUnsafeBufferPointer({ p in p.withMemoryRebound(to: CChar.self) { opendir($0.baseAddress!) } }) else {
                return
            }
            defer { closedir(stream) }
            var names: [[UInt8]] = []
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: &entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
                if name != [46] && name != [46, 46] { names.append(name) }
            }
            for name in names {
                let path = dir + [47] + name
                let shown =
                    (relative.isEmpty ? "" : relative + "/")
                    + name.map { $0 < 0x21 || $0 > 0x7E ? String(format: "%%%02x", $0) : String(UnicodeScalar($0)) }.joined()
                if leaving.contains(shown) { continue }
                var st = stat()
                _ = (path + [0]).withUnsafeBufferPointer { p in p.withMemoryRebound(to: CChar.self) { lstat($0.baseAddress!, &st) } }
                let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
                var line = "\(st.st_mode & S_IFMT) \(String(st.st_mode & 0o7777, radix: 8)) \(st.st_size) \(mtime)"
                switch st.st_mode & S_IFMT {
                case S_IFREG:
                    let data = FileManager.default.contents(atPath: String(decoding: path, as: UTF8.self)) ?? readBytes(path)
                    line += " " + SHA256Hasher.hex(of: Array(data))
                case S_IFLNK:
                    var buffer = [CChar](repeating: 0, count: 4096)
                    let n = (path + [0]).withUnsafeBufferPointer { p in
                        p.withMemoryRebound(to: CChar.self) { readlink($0.baseAddress!, &buffer, 4096) }
                    }
                    line = "\(st.st_mode & S_IFMT) \(String(cString: Array(buffer.prefix(max(n, 0))) + [0]))"
                case S_IFDIR:
                    line = "\(st.st_mode & S_IFMT) \(String(st.st_mode & 0o7777, radix: 8)) \(mtime)"
                    walk(path, shown)
                default:
                    break
                }
                result[shown] = line
            }
        }
        walk(Array(root.utf8), "")
        return result
    }

    static func readBytes(_ path: [UInt8]) -> Data {
        let fd = (path + [0]).withUnsafeBufferPointer { p in p.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_RDONLY) } }
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return data
    }

    static func json(_ text: String) throws -> [[String: Any]] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
    }

    @Test func aTreeRoundTripsThroughBothStoresAndASecondSnapshotStoresOnlyWhatChanged() throws {
        let rig = try Rig()
        #expect(try rig.walvault(["migrate"]).status == 0)
        try Self.makeTree(rig.tree)
        try rig.ws.giveToPostgres()
        let before = Self.describe(rig.tree, leaving: ["scratch.tmp", "cache"])
        #expect(before.count > 10_100 && before.keys.contains("new%0aline.txt") && before.keys.contains("%ff%feA.bin"))

        let first = try rig.walvault(["files", "backup", "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let firstResult = try #require(try Self.json(first.stdout).first)
        let firstID = try #require(firstResult["id"] as? String)
        let total = try #require(firstResult["bytes"] as? Int)
        #expect(firstResult["files"] as? Int == 10_007 && firstResult["symlinks"] as? Int == 3, "\(firstResult)")
        #expect(firstResult["newBytes"] as? Int == total)
        #expect(Set((firstResult["stored"] as? [String: Int])?.keys ?? [:].keys) == ["local", "cloud"])
        // Ten thousand files are a few packs, not ten thousand objects.
        let packs = filesRecursively(rig.store).filter { $0.contains("/files/packs/") }
        #expect(packs.count >= 3 && packs.count <= 9, "\(packs)")

        // Encrypted at rest: no content, file name or directory name of the tree in any object.
        for object in filesRecursively(rig.store) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: rig.store + "/" + object))
            for marker in [Self.contentMarker, Self.nameMarker, "dir 1", "ünïcode", "secret.txt"] {
                #expect(bytes.range(of: Data(marker.utf8)) == nil, "\(marker) readable in \(object)")
            }
        }

        // 1 % of the files rewritten, one byte inserted at the front of the large file.
        sleep(1)
        for n in stride(from: 3, to: 10_000, by: 100) {
            let d = n / 500
            let e = (n / 100) % 5
            try Self.write(Array("\(rig.tree)/dir \(d)/sub\(e)/file-\(n % 100).dat".utf8), Array("rewritten \(n)\n".utf8))
        }
        let large = Self.readBytes(Array("\(rig.tree)/big.bin".utf8))
        // Written in place (owner and mode kept): a chown would change every file's ctime, and
        // every file would rightly be read again.
        try (Data([0x42]) + large).write(to: URL(fileURLWithPath: "\(rig.tree)/big.bin"))
        let changed = Self.describe(rig.tree, leaving: ["scratch.tmp", "cache"])
        let second = try rig.walvault(["files", "backup", "--name", "uploads", "--json"])
        #expect(second.status == 0, "\(second.stderr)")
        let secondResult = try #require(try Self.json(second.stdout).first)
        let secondID = try #require(secondResult["id"] as? String)
        let newBytes = try #require(secondResult["newBytes"] as? Int)
        // The large file's first chunk and the hundred rewritten files: under 2 % of the tree.
        #expect(newBytes > 512 << 10 && newBytes * 50 < total, "\(secondResult), tree \(total) bytes")
        #expect(secondResult["filesReused"] as? Int == 10_007 - 101, "\(secondResult)")

        let list = try rig.walvault(["files", "list", "--json"])
        let items = try Self.json(list.stdout)
        #expect(items.map { $0["id"] as? String } == [firstID, secondID])
        #expect(items.allSatisfy { Set($0["stores"] as? [String] ?? []) == ["local", "cloud"] })
        let text = try rig.walvault(["files", "list"])
        #expect(text.status == 0 && text.stdout.contains("uploads/\(secondID)") && text.stdout.contains("\"cloud\""), "\(text.stdout)")

        // Each snapshot restores byte-exact, with modes and mtimes, from the cloud alone.
        let out1 = rig.ws.file("out1")
        let restored1 = try rig.walvault(["files", "restore", "--name", "uploads", "--snapshot", firstID, "--into", out1, "--store", "cloud"])
        #expect(restored1.status == 0, "\(restored1.stderr)")
        #expect(restored1.stdout.contains("from store \"cloud\""), "\(restored1.stdout)")
        #expect(Self.describe(out1) == before)
        let out2 = rig.ws.file("out2")
        let restored2 = try rig.walvault(["files", "restore", "--name", "uploads", "--into", out2])
        #expect(restored2.status == 0 && restored2.stdout.contains(secondID), "\(restored2.stderr)")
        #expect(Self.describe(out2) == changed)
        #expect(Self.describe(out2) != before)

        // --as-of between the two picks the first; --path one directory or one file.
        let asOf =
            "\(firstID.prefix(4))-\(firstID.dropFirst(4).prefix(2))-\(firstID.dropFirst(6).prefix(2)) \(firstID.dropFirst(9).prefix(2)):\(firstID.dropFirst(11).prefix(2)):\(firstID.dropFirst(13).prefix(2))+00"
        let out3 = rig.ws.file("out3")
        let old = try rig.walvault(["files", "restore", "--name", "uploads", "--as-of", asOf, "--path", "dir 0/sub0", "--into", out3])
        #expect(old.status == 0 && old.stdout.contains(firstID), "\(old.stdout) \(old.stderr)")
        #expect(
            Self.describe(out3 + "/dir 0/sub0")
                == before.filter { $0.key.hasPrefix("dir%200/sub0/") }.reduce(into: [:]) {
                    $0[String($1.key.dropFirst("dir%200/sub0/".count))] = $1.value
                })
        #expect(try FileManager.default.contentsOfDirectory(atPath: out3) == ["dir 0"])
        let out4 = rig.ws.file("out4")
        #expect(try rig.walvault(["files", "restore", "--name", "uploads", "--path", "private/secret.txt", "--into", out4]).status == 0)
        #expect(Self.describe(out4 + "/private")["secret.txt"] == changed["private/secret.txt"])

        // Refusals, one line each, nothing written.
        let notEmpty = try rig.walvault(["files", "restore", "--name", "uploads", "--into", out2])
        #expect(
            notEmpty.status == 1 && notEmpty.stderr.contains("--into \(out2) is not empty") && notEmpty.stderr.split(separator: "\n").count == 1,
            "\(notEmpty.stderr)")
        let missing = try rig.walvault(["files", "restore", "--name", "uploads", "--snapshot", "20000101T000000Z", "--into", rig.ws.file("out5")])
        #expect(
            missing.status == 1 && missing.stderr.contains("no store holds snapshot 20000101T000000Z") && missing.stderr.contains(secondID),
            "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: rig.ws.file("out5")))
        let noPath = try rig.walvault(["files", "restore", "--name", "uploads", "--path", "no/such", "--into", rig.ws.file("out6")])
        #expect(noPath.status == 1 && noPath.stderr.contains("has nothing at no/such"), "\(noPath.stderr)")
        let badName = try rig.walvault(["files", "backup", "--name", "photos"])
        #expect(
            badName.status == 1 && badName.stderr.contains("no [[storage]] entry is named \"photos\"") && badName.stderr.contains("\"uploads\""),
            "\(badName.stderr)")

        // --force writes over what the snapshot has and leaves the rest.
        try Self.write(Array("\(out2)/run.sh".utf8), Array("tampered".utf8))
        try Self.write(Array("\(out2)/extra.txt".utf8), Array("mine".utf8))
        let forced = try rig.walvault(["files", "restore", "--name", "uploads", "--into", out2, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(Self.describe(out2, leaving: ["extra.txt"]) == changed)
        #expect(FileManager.default.fileExists(atPath: "\(out2)/extra.txt"))

        // History: a row per store for each snapshot, type storage.
        let rows = try rig.cluster.sql(
            "SELECT type || ' ' || operation || ' ' || store_name || ' ' || object_name FROM control_plane.backups WHERE operation = 'files-backup' AND status = 'succeeded' ORDER BY object_name, store_name"
        )
        #expect(
            rows
                == "storage files-backup cloud uploads/\(firstID)\nstorage files-backup local uploads/\(firstID)\nstorage files-backup cloud uploads/\(secondID)\nstorage files-backup local uploads/\(secondID)",
            "\(rows)")
        let history = try rig.cluster.sql("SELECT string_agg(t::text, ' ') FROM control_plane.backups t")
        #expect(!history.contains(Self.passphraseMarker) && !history.contains(rig.server.secretAccessKey))

        // Expire two days on: the first snapshot goes from both stores, and its rows say so; the
        // second, the tree when the window begins, stays, due when a newer one has aged out.
        let expired = try rig.walvault(["expire", "--as-of", RecoveryMoment.utc(secondsFromNow: 2 * 86_400), "--force"])
        #expect(expired.status == 0, "\(expired.stderr)")
        #expect(try rig.walvault(["files", "list", "--json"]).stdout.contains(firstID) == false)
        let marked = try rig.cluster.sql(
            "SELECT object_name || ' ' || (expired_at IS NOT NULL) FROM control_plane.backups WHERE operation = 'files-backup' AND status = 'succeeded' ORDER BY object_name, store_name"
        )
        #expect(
            marked == "uploads/\(firstID) true\nuploads/\(firstID) true\nuploads/\(secondID) false\nuploads/\(secondID) false", "\(marked)")
    }

    @Test func aDamagedPackIsNamedAndAnotherStoreStillRestores() throws {
        let rig = try Rig()
        #expect(try rig.walvault(["migrate"]).status == 0)
        try FileManager.default.createDirectory(atPath: rig.tree + "/a", withIntermediateDirectories: true)
        try Self.write(Array("\(rig.tree)/a/one.txt".utf8), Array(repeating: 0x61, count: 100_000))
        try rig.ws.giveToPostgres()
        let backup = try rig.walvault(["files", "backup"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let pack = try #require(filesRecursively(rig.store).first { $0.contains("/files/packs/") })
        let path = rig.store + "/" + pack
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xFF
        chmod(path, 0o644)
        try bytes.write(to: URL(fileURLWithPath: path))
        let damaged = try rig.walvault(["files", "restore", "--name", "uploads", "--into", rig.ws.file("out"), "--store", "local"])
        #expect(
            damaged.status == 1 && damaged.stderr.contains(String(pack.split(separator: "/").last ?? ""))
                && damaged.stderr.contains("store \"local\""), "\(damaged.stderr)")
        #expect(damaged.stderr.split(separator: "\n").count == 1, "\(damaged.stderr)")
        // No file under its own name that was not checked, and no partial file left behind.
        #expect(filesRecursively(rig.ws.file("out")).isEmpty, "\(filesRecursively(rig.ws.file("out")))")
        let cloud = try rig.walvault(["files", "restore", "--name", "uploads", "--into", rig.ws.file("out2"), "--store", "cloud"])
        #expect(cloud.status == 0, "\(cloud.stderr)")
        #expect(Self.describe(rig.ws.file("out2")) == Self.describe(rig.tree))
    }
}
