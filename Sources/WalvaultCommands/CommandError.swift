import WalvaultSystem

/// A command-level refusal or failure, phrased for the person reading PostgreSQL's log:
/// what failed (with the file, store or object) and what to do about it.
public struct CommandError: Problem, Equatable {
    public let problem: String
    public let fix: String
    public let errorCode: String

    public init(problem: String, fix: String, errorCode: String = "command.refused") {
        self.problem = problem
        self.fix = fix
        self.errorCode = errorCode
    }
}
