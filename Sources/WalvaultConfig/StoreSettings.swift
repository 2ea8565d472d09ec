/// One `[[stores]]` entry. The kind carries the settings that only make sense for it,
/// so S3 and Telegram stores add cases here without loosening the local one.
public struct StoreSettings: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case local(path: String)
    }

    public var name: String
    public var kind: Kind

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    /// The `type` values the config accepts today.
    public static let knownTypes = ["local"]
    /// Types that are planned but not built yet: named in the error so the user knows why.
    public static let plannedTypes = ["s3", "telegram"]
}
