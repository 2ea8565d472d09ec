import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Things a driver must tell the user that are not errors (the newest Telegram catalog could
/// not be read, so an older one is used). The CLI installs a handler that prints them as
/// warnings; without one they go to standard error, never nowhere.
public enum StoreNotices {
    private static let handler = Mutex<(@Sendable (String) -> Void)?>(nil)

    public static func install(_ body: @escaping @Sendable (String) -> Void) { handler.withLock { $0 = body } }

    public static func post(_ text: String) {
        if let body = handler.withLock({ $0 }) {
            body(text)
        } else {
            var line = "walvault: warning: " + text + "\n"
            line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        }
    }
}
