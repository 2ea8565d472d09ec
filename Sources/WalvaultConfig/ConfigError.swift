/// A configuration problem, always naming the file and, where there is one, the key,
/// so that the one line PostgreSQL logs for a failed archive_command is enough to fix it.
import WalvaultSystem

public struct ConfigError: Problem, Equatable {
    public let file: String
    public let key: String?
    public let problem: String
    public let fix: String

    public init(file: String, key: String? = nil, problem: String, fix: String) {
        self.file = file
        self.key = key
        self.problem = problem
        self.fix = fix
    }

    public var errorCode: String { "config.invalid" }

    public var description: String {
        let place = key.map { "\(file): \($0)" } ?? file
        return "config \(place): \(problem); \(fix)"
    }
}
