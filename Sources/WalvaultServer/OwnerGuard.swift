import Crypto
import Hummingbird

/// Lets a request through only with a live owner session, and a state-changing one only with the
/// session's CSRF token in `X-CSRF-Token`. The login itself (`POST /api/session`) is the one way in
/// without either. Everything else gets 401 (no session) or 403 (no CSRF token), as JSON.
struct OwnerGuard: RouterMiddleware {
    typealias Context = ServerRequestContext
    let sessions: SessionStore
    let clock: @Sendable () -> Int64

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .post && request.uri.path == "/api/session" { return try await next(request, context) }
        guard let token = request.cookies[SessionStore.cookieName]?.value, let session = sessions.session(token: token, now: clock()) else {
            return APIResponse.refused(
                "auth.required", "\(request.method) \(request.uri.path) needs the owner's login", fix: "log in with the password and a TOTP code")
        }
        if ![.get, .head].contains(request.method) {
            guard let sent = request.headers[.init("X-CSRF-Token")!], Self.constantTimeEqual(sent, session.csrfToken) else {
                return APIResponse.refused(
                    "auth.forbidden", "\(request.method) \(request.uri.path) came without the session's CSRF token",
                    fix: "send the token GET /api/session returns in the X-CSRF-Token header")
            }
        }
        var context = context
        context.subject = session.subject
        context.sessionToken = token
        return try await next(request, context)
    }

    /// swift-crypto compares digests in constant time, and hashing first hides the lengths too.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        SHA256.hash(data: Array(a.utf8)) == SHA256.hash(data: Array(b.utf8))
    }
}
