import WalvaultSystem

/// A command-level refusal or failure, phrased for the person reading PostgreSQL's log:
/// what failed (with the file, store or object) and what to do about it. One made from a lower
/// error keeps it as its `cause`, and that error's code, so a full disk stays `system.no_space`
/// in history and alerts however the sentence is put.
public struct CommandError: Problem, Equatable {
    public let problem: String
    public let fix: String
    public let errorCode: String
    public let cause: (any Error)?

    public init(problem: String, fix: String, errorCode: String = "command.refused") {
        self.problem = problem
        self.fix = fix
        self.errorCode = errorCode
        cause = nil
    }

    /// The sentence is this command's; the code is the cause's.
    public init(cause: any Error, problem: String, fix: String) {
        self.problem = problem
        self.fix = fix
        errorCode = ErrorCodes.of(cause) == "internal" ? "command.refused" : ErrorCodes.of(cause)
        self.cause = cause
    }

    public static func == (a: CommandError, b: CommandError) -> Bool {
        a.problem == b.problem && a.fix == b.fix && a.errorCode == b.errorCode
    }
}
