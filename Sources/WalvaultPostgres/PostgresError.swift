import WalvaultSystem

/// A database failure. Messages come from the server or libpq and never include the conninfo,
/// which may hold a password.
public struct PostgresError: Problem, Equatable {
    public let problem: String
    public let fix: String

    public init(problem: String, fix: String) {
        self.problem = problem
        self.fix = fix
    }
}
