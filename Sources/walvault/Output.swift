#if canImport(Glibc)
    import Glibc
#endif

/// Every message is one line on stderr, which PostgreSQL copies into its log.
enum Output {
    /// An empty command names walvault itself (a command line with no known subcommand).
    static func fail(_ command: String, _ message: String) {
        line("walvault\(command.isEmpty ? "" : " " + command): error: \(message)")
    }

    static func warn(_ command: String, _ message: String) {
        line("walvault \(command): warning: \(message)")
    }

    static func info(_ command: String, _ message: String) {
        line("walvault \(command): \(message)")
    }

    private static func line(_ text: String) {
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        let bytes = Array((flat + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
