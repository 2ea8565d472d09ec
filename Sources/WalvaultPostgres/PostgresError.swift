import WalvaultSystem

/// A database failure. Messages come from the server or libpq and never include the conninfo,
/// which may hold a password.
public struct PostgresError: Problem, Equatable {
    public let problem: String
    public let fix: String
    /// The server could not be reached at all (as opposed to refusing a statement).
    public let isConnectionFailure: Bool

    public var errorCode: String { isConnectionFailure ? "postgres.unreachable" : "postgres.refused" }

    public init(problem: String, fix: String, isConnectionFailure: Bool = false) {
        self.problem = problem
        self.fix = fix
        self.isConnectionFailure = isConnectionFailure
    }
}
