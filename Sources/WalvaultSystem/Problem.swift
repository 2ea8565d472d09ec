/// The shape every walvault refusal takes: what failed (naming the file, key, store or segment)
/// and what to do. Each layer keeps its own error type, so callers and tests can tell where a
/// failure came from, and they all print the same one-line way.
public protocol Problem: Error, CustomStringConvertible {
    var problem: String { get }
    var fix: String { get }
}

extension Problem {
    public var description: String { fix.isEmpty ? problem : "\(problem); \(fix)" }
}
