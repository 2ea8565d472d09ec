/// One `[[storage]]` entry: a tree of the application's files (uploads, attachments) that
/// `walvault files backup` keeps beside the database, in the same stores.
public struct StorageSettings: Sendable, Equatable {
    /// How commands and the history name the tree; its snapshots live under this name in every store.
    public var name: String
    /// The tree's root, absolute.
    public var path: String
    /// gitignore-style patterns, relative to `path`, of what the snapshots leave out.
    public var exclude: [String]

    public init(name: String, path: String, exclude: [String] = []) {
        self.name = name
        self.path = path
        self.exclude = exclude
    }
}
