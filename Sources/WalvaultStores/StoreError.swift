import WalvaultSystem

/// A store operation that failed, naming the store and the key or path involved.
public struct StoreError: Error, CustomStringConvertible {
    public let store: String
    public let problem: String
    public let fix: String?

    public init(store: String, problem: String, fix: String?) {
        self.store = store
        self.problem = problem
        self.fix = fix
    }

    public init(store: String, _ error: SystemError) {
        self.init(store: store, problem: error.description, fix: error.hint)
    }

    public var description: String {
        "store \"\(store)\": \(problem)" + (fix.map { "; \($0)" } ?? "")
    }
}
