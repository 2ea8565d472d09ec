import Logging

/// The server's own warnings (an audit row that went to the journal), in the same log as
/// Hummingbird's; never a request's answer.
enum ServerLog {
    static let logger = Logger(label: "walvault-server")

    static func warn(_ text: String) { logger.warning("\(text)") }
}
