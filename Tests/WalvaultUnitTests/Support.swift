#if canImport(Glibc)
import Glibc
#endif
import Testing
import WalvaultCatalog
import WalvaultConfig
import WalvaultPipeline
import WalvaultStores
import WalvaultSystem
import WalvaultTesting
import WalvaultKit

/// A temporary directory for one test, removed when the value goes away.
final class TempDir {
    let path: String
    private var mounts: [String] = []

    init() {
        var template = Array("/tmp/walvault-unit.XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit {
        for mount in mounts.reversed() { _ = umount2(mount, Int32(MNT_DETACH)) }
        _ = system("rm -rf '\(path)'")
    }

    func sub(_ name: String) -> String {
        let p = Paths.join(path, name)
        try! FileSystem.makeDirectories(p)
        return p
    }

    func rename(_ name: String, to newName: String) {
        try! FileSystem.rename(Paths.join(path, name), to: Paths.join(path, newName))
    }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = Paths.join(path, name)
        try! FileSystem.makeDirectories(Paths.dirname(p))
        let fd = try! FileDescriptor.open(p, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        try! fd.writeAll(bytes)
        return p
    }

    /// A tmpfs of `bytes`, optionally read-only; nil when this process may not mount (not root).
    func mountTmpfs(_ name: String, bytes: Int, readOnly: Bool = false) -> String? {
        let p = sub(name)
        guard geteuid() == 0 else { return nil }
        let options = "size=\(bytes)"
        guard Glibc.mount("tmpfs", p, "tmpfs", readOnly ? UInt(MS_RDONLY) : 0, options) == 0 else { return nil }
        mounts.append(p)
        return p
    }
}

func read(_ path: String) -> [UInt8] { try! FileSystem.readSmallFile(path, limit: 1 << 30) }

/// A WAL segment PostgreSQL could have written: a valid long page header followed by noise.
func makeSegment(name: WALSegmentName, systemIdentifier: UInt64 = 7_000_000_000_000_000_001,
                 segmentSize: Int = 1 << 20, magic: UInt16 = 0xD110, seed: UInt64 = 1) -> [UInt8] {
    var bytes = sampleBytes(segmentSize, seed: seed)
    func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for (i, b) in raw.enumerated() { bytes[offset + i] = b }
        }
    }
    put(magic, at: 0)
    put(UInt16(0x0002), at: 2)
    put(name.timeline, at: 4)
    put(name.segmentNumber(segmentSize: segmentSize) * UInt64(segmentSize), at: 8)
    put(UInt32(0), at: 16)
    put(UInt32(0), at: 20)
    put(systemIdentifier, at: 24)
    put(UInt32(segmentSize), at: 32)
    put(UInt32(8192), at: 36)
    return bytes
}

/// A config with one local store per path, built in code (the TOML side has its own tests).
func makeContext(stores: [String], algorithm: CompressionAlgorithm = .zstd, pgdata: String? = nil, keyRing: KeyRing? = nil) -> WalvaultContext {
    let settings = stores.enumerated().map { StoreSettings(name: "store\($0.offset + 1)", kind: .local(path: $0.element)) }
    let config = WalvaultConfig(path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", pgdata: pgdata),
                                compression: CompressionSettings(algorithm: algorithm), stores: settings)
    return WalvaultContext(config: config, stores: settings.map { try! WalvaultContext.makeStore($0) }, keyRing: keyRing)
}

/// A key ring for tests: a low iteration count keeps them fast, except where the default is the point.
func makeKeyRing(_ passphrase: String = "correct horse battery staple", iterations: Int = 1000, cache: KeyCache? = nil) -> KeyRing {
    let bytes = Array(passphrase.utf8)
    return KeyRing(passphrase: bytes.withUnsafeBytes { SecretBytes(copying: $0) }, iterations: iterations, cache: cache)
}

func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
        if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
    }
    return false
}

func seg(_ text: String) -> WALSegmentName { WALSegmentName(text)! }

/// Every file under a directory, recursively (names relative to it).
func filesUnder(_ root: String) -> [String] {
    var result: [String] = []
    func walk(_ dir: String, _ prefix: String) {
        for name in (try? FileSystem.listDirectory(dir)) ?? [] {
            let full = Paths.join(dir, name)
            if FileSystem.isDirectory(full) { walk(full, prefix + name + "/") } else { result.append(prefix + name) }
        }
    }
    walk(root, "")
    return result.sorted()
}

/// An object's bytes, read in 100 000-byte steps.
func readObject(_ store: Store, _ key: String) throws -> [UInt8] {
    let reader = try store.openReader(key: key)
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 100_000)
    while true {
        let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
        if n == 0 { return out }
        out += buffer[0..<n]
    }
}

/// The StoreError `body` throws; any other error is recorded as an issue.
func storeError(_ body: () throws -> Void) -> StoreError? {
    do { try body() } catch let error as StoreError { return error } catch { Issue.record("not a StoreError: \(error)") }
    return nil
}

/// A Telegram store on the Bot API stand-in, its local state in `workDirectory` (a new one is a new machine).
func telegramStore(_ standIn: TelegramStandIn, workDirectory: String, partSize: Int, keyRing: KeyRing? = nil, pacer: TelegramPacer = TelegramPacer(),
                   retryDelays: [Double] = [0.5, 1, 2, 4, 8], token: String? = nil, chatID: String? = nil, localFiles: Bool = false) -> TelegramStore {
    let api = TelegramBotAPI(store: "telegram", apiBase: standIn.apiBase, token: Array((token ?? standIn.token).utf8).withUnsafeBytes { SecretBytes(copying: $0) },
                             chatID: chatID ?? standIn.chatID, localFiles: localFiles)
    return TelegramStore(name: "telegram", api: api, partSize: partSize, workDirectory: workDirectory, keyRing: keyRing, pacer: pacer, retryDelays: retryDelays)
}
