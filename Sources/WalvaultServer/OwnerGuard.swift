import Crypto
import Hummingbird

/// Lets a request through only for the owner: with a live owner session (and, for a state-changing
/// request, the session's CSRF token in `X-CSRF-Token`), or with the host application's JWT whose
/// role is `owner` in `Authorization: Bearer`. A bearer token is not sent by the browser on its
/// own, so it needs no CSRF token. The login itself (`POST /api/session`) is the one way in
/// without either, and `GET /metrics` has a token of its own. Everything else gets 401 (no or invalid credentials) or 403 (another role, no
/// CSRF token), as JSON.
struct OwnerGuard: RouterMiddleware {
    typealias Context = ServerRequestContext
    let sessions: SessionStore
    let hostTokens: HostApplicationTokens?
    let apiTokens: APITokens
    let clock: @Sendable () -> Int64

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The login; any method but the session's own (GET, DELETE) is 405 there, not a login.
        if request.uri.path == "/api/session" && ![.get, .head, .delete].contains(request.method) { return try await next(request, context) }
        // Prometheus's route checks its own token: a scraper is not the owner. The login page and
        // its script and style sheet are the way in.
        if request.uri.path == "/metrics" || request.uri.path == "/login" || request.uri.path.hasPrefix("/static/") {
            return try await next(request, context)
        }
        if let authorization = request.headers[.authorization] {
            return try await bearer(authorization, request, context: context, next: next)
        }
        guard let token = request.cookies[SessionStore.cookieName]?.value, let session = sessions.session(token: token, now: clock()) else {
            // A page asked without a session goes to the login page; the API answers 401.
            if request.method == .get && !request.uri.path.hasPrefix("/api/") {
                return Response(status: .seeOther, headers: [.location: "/login"])
            }
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
        context.csrfToken = session.csrfToken
        return try await next(request, context)
    }

    /// The token of `Authorization: Bearer <token>` (the scheme's case ignored, as RFC 9110 says),
    /// or nil for any other header.
    static func bearerToken(_ authorization: String) -> String? {
        let parts = authorization.split(separator: " ", maxSplits: 1)
        return parts.count == 2 && parts[0].lowercased() == "bearer" ? String(parts[1]) : nil
    }

    private func bearer(
        _ authorization: String, _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let presented = Self.bearerToken(authorization) else {
            return APIResponse.refused(
                "auth.required", "the Authorization header is not \"Bearer <token>\"", fix: "send the host application's JWT as a bearer token")
        }
        if presented.hasPrefix(APITokens.prefix) {
            guard let record = apiTokens.authenticate(presented, now: clock()) else {
                return APIResponse.refused(
                    "auth.required", "\(request.method) \(request.uri.path): that API token is not a live one (revoked, or never made here)",
                    fix: "make a new one in the dashboard")
            }
            guard record.scope == .owner || [.get, .head].contains(request.method) else {
                return APIResponse.refused(
                    "auth.forbidden", "\(request.method) \(request.uri.path): API token \(record.name) may only read",
                    fix: "use a token of scope owner for this")
            }
            var context = context
            context.subject = "token \(record.name)"
            return try await next(request, context)
        }
        guard let hostTokens else {
            return APIResponse.refused(
                "auth.required", "this server accepts no bearer tokens", fix: "set [dashboard] jwt_public_key_file, or log in as the owner")
        }
        switch await hostTokens.verify(presented) {
        case .owner(let subject):
            var context = context
            context.subject = subject
            return try await next(request, context)
        case .invalid(let why):
            return APIResponse.refused("auth.required", "\(request.method) \(request.uri.path): \(why)", fix: "sign in to the host application again")
        case .forbidden(let role):
            return APIResponse.refused(
                "auth.forbidden", "\(request.method) \(request.uri.path): the token's role is \(role); only the owner may use walvault",
                fix: "ask the project's owner")
        }
    }

    /// swift-crypto compares digests in constant time, and hashing first hides the lengths too.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        SHA256.hash(data: Array(a.utf8)) == SHA256.hash(data: Array(b.utf8))
    }
}
