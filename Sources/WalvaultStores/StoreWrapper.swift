/// A store that adds behaviour around another (encryption, or the check that there is none):
/// what the store is, and what it lists, pass through unchanged.
public protocol StoreWrapper: Store {
    var base: Store { get }
}

extension StoreWrapper {
    public var name: String { base.name }
    public var capabilities: StoreCapabilities { base.capabilities }
    public var maxObjectSize: Int? { base.maxObjectSize }
    public var location: String { base.location }

    /// The generic layer honours the flags, as pgBackRest's storage.c does: a caller that asks a
    /// store for what it cannot do gets one clear refusal, whatever the driver would have done.
    public func require(_ capability: StoreCapabilities, _ what: String) throws {
        guard capabilities.contains(capability) else {
            throw StoreError(
                store: name, kind: .permanent, problem: "this store cannot \(what)",
                fix: capability == .listing ? "read it through walvault's catalog of the store" : "use a store that can")
        }
    }

    public func list(directory: String, namePrefix: String) throws -> [StoreObject] {
        try require(.listing, "list its objects")
        return try base.list(directory: directory, namePrefix: namePrefix)
    }

    public func listSubdirectories(directory: String) throws -> [String] {
        try require(.listing, "list its objects")
        return try base.listSubdirectories(directory: directory)
    }

    public func head(key: String) throws -> StoreObject? {
        try base.head(key: key)
    }

    public func delete(key: String) throws {
        try require(.deletion, "delete objects")
        try base.delete(key: key)
    }

    public func flush() throws -> FlushReport { try base.flush() }
    public func handle(of key: String) -> String? { base.handle(of: key) }
    public func abortAbandonedUploads(under directory: String, begunBefore micros: Int64) throws -> Int {
        try base.abortAbandonedUploads(under: directory, begunBefore: micros)
    }
}

extension Store {
    /// The driver below any wrappers when it is a `T`: for what only one driver can say (whether a
    /// Telegram chat can have a topic per backup).
    public func driver<T>(as type: T.Type) -> T? {
        var current: Store? = self
        while let next = current {
            if let driver = next as? T { return driver }
            current = (next as? any StoreWrapper)?.base
        }
        return nil
    }
}
