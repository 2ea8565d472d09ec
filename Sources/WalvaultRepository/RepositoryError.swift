import WalvaultCatalog
import WalvaultSystem

/// What the stores hold cannot be used as asked: an object fails its checksum or does not
/// decompress, or has no name walvault wrote. The object is named; the fix says what to do.
public struct RepositoryError: Problem, Equatable {
    public let problem: String
    public let fix: String

    public init(problem: String, fix: String) {
        self.problem = problem
        self.fix = fix
    }
}
