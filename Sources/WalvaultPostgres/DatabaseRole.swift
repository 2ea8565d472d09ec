/// Which database a connection is for, so that messages name the setting to fix.
public struct DatabaseRole: Sendable {
    public let name: String
    public let setting: String

    /// The archived cluster itself (backup).
    public static let cluster = DatabaseRole(name: "the database", setting: "[cluster] conninfo")
    /// Where the history table lives.
    public static let controlPlane = DatabaseRole(name: "the control-plane database", setting: "[history] conninfo")
}
