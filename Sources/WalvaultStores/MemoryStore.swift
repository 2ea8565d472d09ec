import Synchronization
import WalvaultSystem

/// A store in memory: the reference driver for the conformance suite, and a stand-in for the
/// commands' tests. With `listing: false` it behaves as a store that cannot enumerate its keys
/// (Telegram), so the code that must keep its own catalog is tested without a network.
public final class MemoryStore: Store {
    public let name: String
    public let capabilities: StoreCapabilities
    public let maxObjectSize: Int?
    public var location: String { "memory:\(name)" }

    struct Entry {
        let bytes: [UInt8]
        let modifiedAt: Int64
    }

    private let entries = Mutex<[String: Entry]>([:])

    public init(name: String, listing: Bool = true, maxObjectSize: Int? = nil) {
        self.name = name
        self.maxObjectSize = maxObjectSize
        capabilities = listing ? [.listing, .atomicConditionalCreate, .deletion] : [.atomicConditionalCreate, .deletion]
    }

    func requireListing() throws {
        guard capabilities.contains(.listing) else {
            throw StoreError(
                store: name, kind: .permanent, problem: "this store cannot list its objects",
                fix: "read it through walvault's catalog of the store, not a listing")
        }
    }

    func object(_ key: String, _ entry: Entry) -> StoreObject {
        StoreObject(key: key, size: entry.bytes.count, modifiedAt: entry.modifiedAt)
    }

    public func list(directory: String, namePrefix: String) throws -> [StoreObject] {
        try requireListing()
        let prefix = directory.isEmpty ? namePrefix : directory + "/" + namePrefix
        return entries.withLock { all in
            all.filter { key, _ in
                key.hasPrefix(prefix) && Paths.dirname(key) == (directory.isEmpty ? "." : directory)
                    && !Paths.basename(key).hasPrefix(".")
            }
            .sorted { $0.key < $1.key }.map { object($0.key, $0.value) }
        }
    }

    public func listSubdirectories(directory: String) throws -> [String] {
        try requireListing()
        let prefix = directory.isEmpty ? "" : directory + "/"
        let names = entries.withLock { all in
            Set(
                all.keys.filter { $0.hasPrefix(prefix) }.compactMap { key -> String? in
                    let rest = key.dropFirst(prefix.count)
                    guard let slash = rest.firstIndex(of: "/"), !rest.hasPrefix(".") else { return nil }
                    return String(rest[..<slash])
                })
        }
        return names.sorted()
    }

    /// Every key, hidden ones included: what the driver really holds, for tests.
    public func keys() -> [String] { entries.withLock { $0.keys.sorted() } }

    public func head(key: String) throws -> StoreObject? {
        entries.withLock { $0[key].map { object(key, $0) } }
    }

    public func openReader(key: String) throws -> ObjectReader {
        guard let entry = entries.withLock({ $0[key] }) else {
            throw StoreError(store: name, kind: .notFound, problem: "no object \(key)", fix: nil)
        }
        return MemoryObjectReader(bytes: entry.bytes)
    }

    public func makeWriter(directory: String) throws -> ObjectWriter {
        MemoryObjectWriter(store: self, directory: directory)
    }

    public func readSmall(key: String) throws -> [UInt8]? {
        entries.withLock { $0[key]?.bytes }
    }

    public func createSmall(key: String, contents: [UInt8]) throws -> Bool {
        insert(key: key, bytes: contents).stored
    }

    public func delete(key: String) throws {
        _ = entries.withLock { $0.removeValue(forKey: key) }
    }

    /// The one atomic step: insert unless the key exists, under the lock.
    func insert(key: String, bytes: [UInt8]) -> (stored: Bool, object: StoreObject) {
        entries.withLock { all in
            if let existing = all[key] { return (false, object(key, existing)) }
            let entry = Entry(bytes: bytes, modifiedAt: WallClock.nowMicros())
            all[key] = entry
            return (true, object(key, entry))
        }
    }
}

final class MemoryObjectReader: ObjectReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
        offset += n
        return n
    }
}

/// Buffers until commit, as a network driver spools: nothing is visible before.
final class MemoryObjectWriter: ObjectWriter {
    private let store: MemoryStore
    private let directory: String
    private var bytes: [UInt8] = []
    private var open = true

    init(store: MemoryStore, directory: String) {
        self.store = store
        self.directory = directory
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard open else { return }
        self.bytes.append(contentsOf: bytes)
    }

    func commit(name: String) throws -> CommitOutcome {
        guard open else {
            throw StoreError(store: store.name, kind: .permanent, problem: "object \(name) was already committed or aborted", fix: nil)
        }
        open = false
        let key = Paths.join(directory, name)
        if let limit = store.maxObjectSize, bytes.count > limit {
            throw StoreError(
                store: store.name, kind: .permanent, problem: "\(key) is \(bytes.count) bytes, more than this store takes (\(limit))",
                fix: "walvault splits objects for such stores; this is a bug if it reaches you")
        }
        let outcome = store.insert(key: key, bytes: bytes)
        return outcome.stored ? .stored(outcome.object) : .alreadyPresent([outcome.object])
    }

    func abort() {
        open = false
        bytes = []
    }
}
