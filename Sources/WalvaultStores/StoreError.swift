import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A store operation that failed, naming the store and the key or path involved. `kind` is for
/// machines (retry decisions, history rows, HTTP statuses later); problem and fix are for people.
public struct StoreError: Problem, Equatable {
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The key does not exist.
        case notFound
        /// "Create unless it exists" found it existing.
        case conflict
        /// May succeed if tried again: a timeout, a dropped connection, a throttled request.
        case transient
        /// Will fail again the same way until someone changes something.
        case permanent
        /// The credentials or permissions do not allow it.
        case auth
    }

    /// What a driver's service refused, when a caller acts on it: typed here, so nothing above the
    /// driver matches the service's text.
    public enum Refusal: String, Sendable, Equatable {
        /// The request was too large for the service (HTTP 413): send smaller pieces.
        case tooLarge
        /// The service no longer lets this client delete the object (Telegram: after 48 hours).
        case deletionWindowPassed
        /// The group an object was sent into is gone (a Telegram forum topic deleted): open another.
        case groupGone
    }

    public let store: String
    public let kind: Kind
    public let problem: String
    public let fix: String
    public var refusal: Refusal?

    public init(store: String, kind: Kind = .permanent, problem: String, fix: String?) {
        self.store = store
        self.kind = kind
        self.problem = problem
        self.fix = fix ?? ""
    }

    public var errorCode: String {
        switch kind {
        case .notFound: return "store.not_found"
        case .conflict: return "store.conflict"
        case .transient: return "store.transient"
        case .permanent: return "store.permanent"
        case .auth: return "store.auth"
        }
    }

    public init(store: String, _ error: SystemError) {
        self.init(store: store, kind: Self.kind(of: error.code), problem: error.description, fix: error.hint)
    }

    /// What an errno means for a caller deciding whether to retry.
    public static func kind(of code: Int32) -> Kind {
        switch code {
        case ENOENT: return .notFound
        case EEXIST: return .conflict
        case EACCES, EPERM: return .auth
        case EINTR, EAGAIN, ETIMEDOUT, EBUSY: return .transient
        default: return .permanent
        }
    }

    public var description: String {
        "store \"\(store)\": \(problem)" + (fix.isEmpty ? "" : "; \(fix)")
    }
}
