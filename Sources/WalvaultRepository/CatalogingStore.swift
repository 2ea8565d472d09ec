import Synchronization
import WalvaultStores
import WalvaultSystem

/// Gives a store that cannot list (Telegram) the listings every command reads through: each
/// object committed or deleted through it is recorded in the store's own `StoreCatalog`, and
/// `list` and `listSubdirectories` are answered from that catalog. The inventory is then built
/// the same way for every store, and gives the same answer (see the tests).
///
/// It sits above `SplittingStore`, so it records the objects commands see, not their pieces,
/// and below encryption (names are not secret: a listing shows them in every other store).
public final class CatalogingStore: StoreWrapper {
    public let base: Store
    let catalog: StoreCatalog
    /// The newest generation this process knows of, so each record starts probing there.
    private let hint = Mutex<UInt64>(0)

    public init(base: Store) {
        self.base = base
        catalog = StoreCatalog(store: base)
    }

    /// Wraps `store` when it cannot list; returns it unchanged otherwise.
    public static func wrapping(_ store: Store) -> Store {
        store.capabilities.contains(.listing) ? store : CatalogingStore(base: store)
    }

    public var capabilities: StoreCapabilities { base.capabilities.union(.listing) }

    func record(put: [StoreObject] = [], delete: [String] = []) throws {
        let written = try catalog.record(put: put, delete: delete, hint: hint.withLock { $0 })
        hint.withLock { $0 = max($0, written) }
    }

    public func list(directory: String, namePrefix: String) throws -> [StoreObject] {
        try catalog.objects().values
            .filter { Paths.dirname($0.key) == directory && $0.name.hasPrefix(namePrefix) && !$0.name.hasPrefix(".") }
            .sorted { $0.key < $1.key }
    }

    public func listSubdirectories(directory: String) throws -> [String] {
        let prefix = directory.isEmpty ? "" : directory + "/"
        let names = try catalog.objects().keys.compactMap { key -> String? in
            guard key.hasPrefix(prefix) else { return nil }
            let rest = key.dropFirst(prefix.count)
            guard let slash = rest.firstIndex(of: "/"), !rest.hasPrefix(".") else { return nil }
            return String(rest[..<slash])
        }
        return Set(names).sorted()
    }

    public func openReader(key: String) throws -> ObjectReader { try base.openReader(key: key) }

    public func makeWriter(directory: String) throws -> ObjectWriter {
        CatalogingWriter(store: self, base: try base.makeWriter(directory: directory))
    }

    public func readSmall(key: String) throws -> [UInt8]? { try base.readSmall(key: key) }

    public func createSmall(key: String, contents: [UInt8]) throws -> Bool {
        guard try base.createSmall(key: key, contents: contents) else { return false }
        if let object = try base.head(key: key) { try record(put: [object]) }
        return true
    }

    /// The catalog forgets the object first: a crash between the two leaves an unlisted object
    /// (garbage), never a listed one that is gone.
    public func delete(key: String) throws {
        try record(delete: [key])
        try base.delete(key: key)
    }
}

/// The object is recorded once committed: a crash before the record leaves an object nobody
/// lists, which the writer's caller never reported stored.
final class CatalogingWriter: ObjectWriter {
    let store: CatalogingStore
    let base: ObjectWriter

    init(store: CatalogingStore, base: ObjectWriter) {
        self.store = store
        self.base = base
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws { try base.write(bytes) }

    func commit(name: String) throws -> CommitOutcome {
        let outcome = try base.commit(name: name)
        if case .stored(let object) = outcome { try store.record(put: [object]) }
        return outcome
    }

    func abort() { base.abort() }
}
