import Testing
import WalvaultCatalog
import WalvaultConfig
import WalvaultHTTP
import WalvaultKit
import WalvaultPipeline
import WalvaultStores
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

// What the library's tests build their cases from, in both test targets: temporary directories,
// WAL segments, contexts, key rings, byte helpers, stores on the servers and the store drivers the
// conformance suite runs over.

/// A temporary directory for one test, removed when the value goes away.
public final class TempDir {
    public let path: String
    private var mounts: [String] = []

    public init() {
        var template = Array("/tmp/walvault-unit.XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit {
        for mount in mounts.reversed() { _ = umount2(mount, Int32(MNT_DETACH)) }
        _ = system("rm -rf '\(path)'")
    }

    public func sub(_ name: String) -> String {
        let p = Paths.join(path, name)
        try! FileSystem.makeDirectories(p)
        return p
    }

    public func rename(_ name: String, to newName: String) {
        try! FileSystem.rename(Paths.join(path, name), to: Paths.join(path, newName))
    }

    public func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = Paths.join(path, name)
        try! FileSystem.makeDirectories(Paths.dirname(p))
        let fd = try! FileDescriptor.open(p, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        try! fd.writeAll(bytes)
        return p
    }

    /// A tmpfs of `bytes`, optionally read-only; nil when this process may not mount (not root).
    public func mountTmpfs(_ name: String, bytes: Int, readOnly: Bool = false) -> String? {
        let p = sub(name)
        guard geteuid() == 0 else { return nil }
        let options = "size=\(bytes)"
        guard Glibc.mount("tmpfs", p, "tmpfs", readOnly ? UInt(MS_RDONLY) : 0, options) == 0 else { return nil }
        mounts.append(p)
        return p
    }
}

public func read(_ path: String) -> [UInt8] { try! FileSystem.readSmallFile(path, limit: 1 << 30) }

/// A WAL segment PostgreSQL could have written: a valid long page header followed by noise.
public func makeSegment(
    name: WALSegmentName, systemIdentifier: UInt64 = 7_000_000_000_000_000_001,
    segmentSize: Int = 1 << 20, magic: UInt16 = 0xD110, seed: UInt64 = 1
) -> [UInt8] {
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
public func makeContext(stores: [String], algorithm: CompressionAlgorithm = .zstd, pgdata: String? = nil, keyRing: KeyRing? = nil) -> WalvaultContext
{
    let settings = stores.enumerated().map { StoreSettings(name: "store\($0.offset + 1)", kind: .local(path: $0.element)) }
    let config = WalvaultConfig(
        path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", pgdata: pgdata),
        compression: CompressionSettings(algorithm: algorithm), stores: settings)
    return WalvaultContext(config: config, stores: settings.map { try! WalvaultContext.makeStore($0) }, keyRing: keyRing)
}

/// A key ring for tests: a low iteration count keeps them fast, except where the default is the point.
public func makeKeyRing(_ passphrase: String = "correct horse battery staple", iterations: Int = 1000, cache: KeyCache? = nil) -> KeyRing {
    let bytes = Array(passphrase.utf8)
    return KeyRing(passphrase: bytes.withUnsafeBytes { SecretBytes(copying: $0) }, iterations: iterations, cache: cache)
}

public func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
        if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
    }
    return false
}

public func seg(_ text: String) -> WALSegmentName { WALSegmentName(text)! }

/// Every file under a directory, recursively (names relative to it).
public func filesUnder(_ root: String) -> [String] {
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
public func readObject(_ store: Store, _ key: String) throws -> [UInt8] {
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
public func storeError(_ body: () throws -> Void) -> StoreError? {
    do { try body() } catch let error as StoreError { return error } catch { Issue.record("not a StoreError: \(error)") }
    return nil
}

/// The kind of the StoreError `body` throws.
public func storeErrorKind(_ body: () throws -> Void) -> StoreError.Kind? { storeError(body)?.kind }

/// A Telegram store on the Bot API stand-in, its local state in `workDirectory` (a new one is a new machine).
public func telegramStore(
    _ standIn: TelegramStandIn, workDirectory: String, partSize: Int, keyRing: KeyRing? = nil, pacer: TelegramPacer = TelegramPacer(),
    retryDelays: [Double] = [0.5, 1, 2, 4, 8], token: String? = nil, chatID: String? = nil, localFiles: Bool = false,
    catalogDocumentLimit: Int = TelegramStore.defaultCatalogDocumentLimit, catalogSettleSeconds: Double = 0.05, forumTopics: Bool = false
) -> TelegramStore {
    let api = TelegramBotAPI(
        store: "telegram", apiBase: standIn.apiBase, token: Array((token ?? standIn.token).utf8).withUnsafeBytes { SecretBytes(copying: $0) },
        chatID: chatID ?? standIn.chatID, localFiles: localFiles)
    return TelegramStore(
        name: "telegram", api: api, partSize: partSize, workDirectory: workDirectory, keyRing: keyRing, pacer: pacer, retryDelays: retryDelays,
        catalogDocumentLimit: catalogDocumentLimit, catalogSettleSeconds: catalogSettleSeconds, forumTopics: forumTopics)
}

/// Deterministic, partly compressible bytes (like WAL: repeated structure with noise).
public func sampleBytes(_ count: Int, seed: UInt64 = 42) -> [UInt8] {
    var state = seed
    var out = [UInt8](repeating: 0, count: count)
    for i in 0..<count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        out[i] = i % 7 == 0 ? UInt8(truncatingIfNeeded: state >> 56) : UInt8(truncatingIfNeeded: i / 512)
    }
    return out
}

extension S3TestServer {
    /// A store on a fresh prefix, signed with the IAM user's key.
    public func store(
        name: String = "s3", endpoint: String? = nil, prefix: String? = nil, secret: String? = nil, accessKeyID: String? = nil, bucket: String? = nil,
        partSize: Int = 5 << 20, readWindow: Int = 1 << 20, pageSize: Int = 1000,
        policy: RetryingStore.Policy = RetryingStore.Policy(attempts: 3, baseDelayMicros: 1000, maxDelayMicros: 10_000),
        conditionalCreate: S3Store.ConditionalCreate? = nil
    ) -> S3Store {
        let secretBytes = Array((secret ?? secretAccessKey).utf8)
        return S3Store(
            name: name, endpoint: endpoint ?? self.endpoint, region: region, bucket: bucket ?? self.bucket,
            prefix: prefix ?? "t-\(UInt64.random(in: 0..<UInt64.max))", pathStyle: true,
            accessKeyID: accessKeyID ?? self.accessKeyID,
            secret: secretBytes.withUnsafeBytes { SecretBytes(copying: $0) },
            partSize: partSize, readWindow: readWindow, pageSize: pageSize, policy: policy,
            conditionalCreate: conditionalCreate)
    }
}

extension FaultProxy {
    public func store(partSize: Int = 5 << 20) throws -> S3Store {
        try S3TestServer.get().store(endpoint: endpoint, partSize: partSize)
    }
}

/// What every store driver must do, run against each of them: the in-library MemoryStore with
/// and without listing, LocalStore, S3 on moto and Telegram on the stand-in. The unit target uses
/// only the first three; the conformance suite runs them all in the integration target.
public enum Driver: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case local, memory, memoryWithoutListing, s3, telegram

    public var testDescription: String { rawValue }

    /// A fresh store, and whatever must live as long as it (the temporary directory).
    /// - Parameter caller: the test file asking: the unit target may not have the server drivers.
    public func make(caller: String = #fileID) throws -> (store: Store, keepAlive: AnyObject?) {
        switch self {
        case .local:
            let dir = TempDir()
            return (LocalStore(name: "local", root: dir.sub("store")), dir)
        case .memory: return (MemoryStore(name: "memory"), nil)
        case .memoryWithoutListing: return (MemoryStore(name: "nolist", listing: false), nil)
        // moto, checking signatures, on loopback; small parts so that multipart is exercised.
        case .s3: return (try S3TestServer.get(caller: caller).store(), nil)
        // The Bot API stand-in, one chat per store; small documents so objects span several.
        case .telegram:
            let standIn = try TelegramStandIn(caller: caller)
            let dir = TempDir()
            return (telegramStore(standIn, workDirectory: dir.sub("work"), partSize: 256 << 10), KeepAlive([standIn, dir]))
        }
    }
}

public final class KeepAlive {
    public let objects: [AnyObject]
    public init(_ objects: [AnyObject]) { self.objects = objects }
}

/// A backup without parts that ran for a minute before `stop`, starting in segment `startSegment`.
public func emptyManifest(stop: Int64, startSegment start: UInt64) -> BackupManifest {
    BackupManifest(
        label: BackupLabel.make(stop - 60_000_000), cluster: "main", systemIdentifier: "7000000000000000001", postgresVersion: 150000,
        walSegmentSize: 1 << 20, timeline: 1, startLSN: LSN(start << 20 + 40), stopLSN: LSN(start << 20 + 4096),
        startTime: stop - 60_000_000, stopTime: stop, walvaultVersion: "test", compression: "zstd",
        backupLabel: "", tablespaceMap: nil, tablespaces: [], parts: [], entries: [])
}
