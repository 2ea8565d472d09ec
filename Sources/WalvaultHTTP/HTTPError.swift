import WalvaultSystem

/// An HTTP exchange that failed before a response, or a response the caller cannot use. Messages
/// name the request by its display URL, never one with a secret in it (the Telegram bot token is
/// in every Bot API path; the caller gives the redacted form).
public struct HTTPError: Problem, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// The connection failed, timed out or was cut: trying again may work.
        case transient
        case permanent
    }

    public let kind: Kind
    public let problem: String
    public let fix: String
    /// The host name did not resolve: a store can say which setting makes up that name.
    public var hostNotFound = false

    public init(kind: Kind, problem: String, fix: String, hostNotFound: Bool = false) {
        self.kind = kind
        self.problem = problem
        self.fix = fix
        self.hostNotFound = hostNotFound
    }

    public var errorCode: String { "http.\(kind.rawValue)" }
}
