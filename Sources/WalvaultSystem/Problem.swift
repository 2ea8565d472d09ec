/// The one shape of every walvault error: what failed (naming the file, key, store or segment),
/// what to do, and a stable code a machine reads (history rows, retry decisions, HTTP statuses
/// later) without parsing the text. Each layer keeps its own type, so callers and tests can tell
/// where a failure came from, and they all print the same one-line way.
public protocol Problem: Error, CustomStringConvertible {
    var problem: String { get }
    var fix: String { get }
    /// `<area>.<what>`, lower case: "store.transient", "config.invalid". Never reworded once shipped.
    var errorCode: String { get }
}

extension Problem {
    public var description: String { fix.isEmpty ? problem : "\(problem); \(fix)" }
}

public enum ErrorCodes {
    /// The code of any error: its own when it is a `Problem`, "internal" otherwise (a bug to report).
    public static func of(_ error: Error) -> String { (error as? Problem)?.errorCode ?? "internal" }
}
