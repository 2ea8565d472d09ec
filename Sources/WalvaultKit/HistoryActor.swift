import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Who an operation ran for, and through what, for the history's `actor` and `origin`: the audit
/// trail. The CLI is the OS user (and the one `sudo` came from); the server will be the owner or a
/// JWT's subject, and the client's address.
public struct HistoryActor: Equatable, Sendable {
    public let name: String
    public let origin: String

    public init(name: String, origin: String) {
        self.name = name
        self.origin = origin
    }

    /// This process: its effective user, and `SUDO_USER` when set and different.
    public static let thisProcess: HistoryActor = {
        let user = FileSystem.userName(geteuid())
        return HistoryActor(name: describe(user: user, sudoUser: Environment.value("SUDO_USER")), origin: "cli")
    }()

    package static func describe(user: String, sudoUser: String?) -> String {
        guard let sudoUser, !sudoUser.isEmpty, sudoUser != user else { return user }
        return "\(user) (sudo from \(sudoUser))"
    }
}
