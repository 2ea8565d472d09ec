import WalvaultCatalog
import WalvaultKit

#if canImport(Glibc)
    import Glibc
#endif

/// `[[storage]] exclude`: gitignore-style patterns, matched by glibc's fnmatch.
/// - "name" or "*.tmp" (no slash): a file or directory of that name at any depth;
/// - "cache/" (a trailing slash): directories only;
/// - "/build" or "a/b/*.log" (a slash before the end): anchored at the tree's root;
/// - "**" crosses directories ("logs/**/*.gz").
/// A directory left out is not walked, so nothing under it is kept. Negation ("!") is refused:
/// re-including what a pattern left out is easy to get wrong in a backup.
public struct ExcludeRules: Sendable {
    struct Rule: Sendable {
        let pattern: [CChar]
        let directoriesOnly: Bool
        let anchored: Bool
        let crossesDirectories: Bool
    }

    let rules: [Rule]

    public init(_ patterns: [String], tree: String) throws {
        rules = try patterns.map { original in
            var pattern = original
            guard !pattern.hasPrefix("!") else {
                throw CommandError(
                    problem: "[[storage]] \"\(tree)\": exclude pattern \"\(original)\" re-includes with '!', which walvault does not support",
                    fix: "list only what to leave out", errorCode: "config.invalid")
            }
            let directoriesOnly = pattern.hasSuffix("/")
            while pattern.hasSuffix("/") { pattern.removeLast() }
            // Bytes, not String.contains: that would be Foundation's range(of:) wherever Foundation is
            // imported, and ICU in every binary (check-binary).
            var anchored = pattern.utf8.dropLast().contains(UInt8(ascii: "/")) || pattern.hasPrefix("/")
            while pattern.hasPrefix("/") { pattern.removeFirst() }
            if pattern.hasPrefix("**/") {
                pattern.removeFirst(3)
                anchored = pattern.utf8.contains(UInt8(ascii: "/"))
                if anchored { pattern = "*/" + pattern }
            }
            guard !pattern.isEmpty else {
                throw CommandError(
                    problem: "[[storage]] \"\(tree)\": exclude pattern \"\(original)\" matches nothing", fix: "remove it", errorCode: "config.invalid"
                )
            }
            return Rule(
                pattern: Array(pattern.utf8CString), directoriesOnly: directoriesOnly, anchored: anchored,
                crossesDirectories: zip(pattern.utf8, pattern.utf8.dropFirst()).contains { $0 == 42 && $1 == 42 })
        }
    }

    public var isEmpty: Bool { rules.isEmpty }

    /// Whether the entry at `path` (relative, bytes) is left out.
    public func excludes(_ path: [UInt8], isDirectory: Bool) -> Bool {
        guard !rules.isEmpty, !path.isEmpty else { return false }
        let name = path.split(separator: UInt8(ascii: "/")).last.map(Array.init) ?? path
        for rule in rules where isDirectory || !rule.directoriesOnly {
            let subject = rule.anchored ? path : name
            let flags: Int32 = rule.crossesDirectories || !rule.anchored ? 0 : FNM_PATHNAME
            let matched = (subject + [0]).withUnsafeBufferPointer { text in
                rule.pattern.withUnsafeBufferPointer { pattern in
                    text.withMemoryRebound(to: CChar.self) { fnmatch(pattern.baseAddress, $0.baseAddress, flags) == 0 }
                }
            }
            if matched { return true }
        }
        return false
    }
}
