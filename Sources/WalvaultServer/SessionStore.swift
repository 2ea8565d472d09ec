import Crypto
import Synchronization
import WalvaultSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The owner's sessions. A session is a random 256-bit token in an HttpOnly, SameSite=Strict cookie;
/// the store keeps only its SHA-256, so a memory dump does not hand out live sessions. Each session
/// has its own CSRF token, an idle limit and an absolute one, and the time of its last second factor
/// (the login's, or a later code), which restore and delete require to be newer than the login.
public final class SessionStore: Sendable {
    public struct Session: Sendable, Equatable {
        public let subject: String
        public let csrfToken: String
        public let createdAt: Int64
        public var lastSeenAt: Int64
        /// When a TOTP code last proved the owner present.
        public var secondFactorAt: Int64
    }

    public static let cookieName = "walvault_session"
    public let idleSeconds: Int64
    public let absoluteSeconds: Int64
    private let sessions = Mutex<[String: Session]>([:])

    public init(idleSeconds: Int64 = 30 * 60, absoluteSeconds: Int64 = 12 * 3600) {
        self.idleSeconds = idleSeconds
        self.absoluteSeconds = absoluteSeconds
    }

    /// A new session; the token is returned once, for the cookie.
    public func open(subject: String, now: Int64) -> (token: String, session: Session) {
        let token = Self.randomToken()
        let session = Session(subject: subject, csrfToken: Self.randomToken(), createdAt: now, lastSeenAt: now, secondFactorAt: now)
        sessions.withLock { sessions in
            sessions = sessions.filter { !expired($0.value, now: now) }
            sessions[Self.digest(token)] = session
        }
        return (token, session)
    }

    /// The live session the token names, touched; nil when there is none or it expired.
    public func session(token: String, now: Int64) -> Session? {
        let key = Self.digest(token)
        return sessions.withLock { sessions in
            guard var session = sessions[key] else { return nil }
            guard !expired(session, now: now) else {
                sessions.removeValue(forKey: key)
                return nil
            }
            session.lastSeenAt = now
            sessions[key] = session
            return session
        }
    }

    public func provedSecondFactor(token: String, now: Int64) {
        sessions.withLock { $0[Self.digest(token)]?.secondFactorAt = now }
    }

    public func close(token: String) {
        _ = sessions.withLock { $0.removeValue(forKey: Self.digest(token)) }
    }

    private func expired(_ session: Session, now: Int64) -> Bool {
        now - session.lastSeenAt >= idleSeconds || now - session.createdAt >= absoluteSeconds
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
    }

    static func digest(_ token: String) -> String {
        Hex.encode(Array(SHA256.hash(data: Array(token.utf8))))
    }
}
