import WalvaultCatalog
import WalvaultSystem

/// What the stores hold cannot be used as asked: an object fails its checksum or does not
/// decompress, or has no name walvault wrote. The object is named; the fix says what to do.
public struct RepositoryError: Problem, Equatable {
    public let problem: String
    public let fix: String
    public let errorCode: String

    public init(problem: String, fix: String, errorCode: String = "repository.damaged") {
        self.problem = problem
        self.fix = fix
        self.errorCode = errorCode
    }
}
