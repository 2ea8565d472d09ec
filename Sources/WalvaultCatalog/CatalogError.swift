import WalvaultSystem

/// A store's contents disagree with what walvault was asked to do: wrong cluster, damaged
/// info file, conflicting objects. These are refusals, never guesses.
public struct CatalogError: Problem, Equatable {
    public let problem: String
    public let fix: String
    public let errorCode: String

    public init(problem: String, fix: String, errorCode: String = "catalog.refused") {
        self.problem = problem
        self.fix = fix
        self.errorCode = errorCode
    }
}
