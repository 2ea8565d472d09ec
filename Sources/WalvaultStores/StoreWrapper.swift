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

    public func list(directory: String, namePrefix: String) throws -> [StoreObject] {
        try base.list(directory: directory, namePrefix: namePrefix)
    }

    public func listSubdirectories(directory: String) throws -> [String] {
        try base.listSubdirectories(directory: directory)
    }

    public func head(key: String) throws -> StoreObject? {
        try base.head(key: key)
    }

    public func delete(key: String) throws {
        try base.delete(key: key)
    }
}
