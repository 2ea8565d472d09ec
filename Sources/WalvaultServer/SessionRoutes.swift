import Hummingbird
import HummingbirdBcrypt
import WalvaultKit
import WalvaultService

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `POST /api/session` (the login: password and TOTP code), `GET` (who, and the CSRF token),
/// `DELETE` (log out). Every login, failed or not, is an audit row with the client's address.
extension DashboardServer {
    struct Credentials: Decodable {
        let password: String
        let totp: String
    }

    struct SessionBody: Encodable {
        let subject: String
        let csrfToken: String
    }

    func addSessionRoutes(to router: Router<ServerRequestContext>) {
        router.post("/api/session") { request, context in try await login(request, context) }
        router.get("/api/session") { _, context in
            guard let token = context.sessionToken, let session = sessions.session(token: token, now: clock()) else {
                // The host application's token: who it names; it needs no CSRF token.
                return APIResponse.json(SessionBody(subject: context.subject ?? "owner", csrfToken: ""))
            }
            return APIResponse.json(SessionBody(subject: session.subject, csrfToken: session.csrfToken))
        }
        router.delete("/api/session") { request, context in
            if let token = context.sessionToken { sessions.close(token: token) }
            audit("logout", actor: actor(request, context))
            var response = Response(status: .noContent)
            response.setCookie(
                Cookie(name: SessionStore.cookieName, value: "", maxAge: 0, path: "/", secure: true, httpOnly: true, sameSite: .strict))
            return response
        }
    }

    private func login(_ request: Request, _ context: ServerRequestContext) async throws -> Response {
        let address = context.clientAddress(request, trustedProxy: settings.trustedProxy)
        let who = HistoryActor(name: "owner", origin: "dashboard from \(address)")
        let wait = throttle.wait(for: address, now: clock())
        guard wait == 0 else {
            var response = APIResponse.refused(
                "auth.throttled", "too many failed logins from \(address)", fix: "wait \(wait) s before the next attempt")
            response.headers[.retryAfter] = String(wait)
            return response
        }
        let typed: Credentials
        switch await Self.decode(Credentials.self, from: request, example: "{\"password\": \"…\", \"totp\": \"123456\"}") {
        case .success(let value): typed = value
        case .failure(let refusal): return APIResponse.problem(refusal)
        }
        let hash = credentials.passwordHash
        let passwordMatches = try await Self.offRequestThreads(on: Self.hashing) { Bcrypt.verify(typed.password, hash: hash) }
        // The code is checked only after the password, so a wrong password never uses up a code.
        let verdict = passwordMatches ? totp.check(typed.totp, atSecond: clock()) : .wrong
        guard case .accepted = verdict else {
            throttle.failed(address, now: clock())
            let refusal = CommandError(
                problem: verdict == .replayed ? "that TOTP code was already used" : "the password or the TOTP code is wrong",
                fix: verdict == .replayed ? "wait for the next code" : "check both; each failure doubles the wait before the next attempt",
                errorCode: "auth.required")
            audit("login", failed: refusal, actor: who)
            return APIResponse.problem(refusal)
        }
        throttle.succeeded(address)
        audit("login", actor: who)
        let (token, session) = sessions.open(subject: "owner", now: clock())
        var response = APIResponse.json(SessionBody(subject: session.subject, csrfToken: session.csrfToken), status: .created)
        response.setCookie(
            Cookie(
                name: SessionStore.cookieName, value: token, maxAge: Int(sessions.absoluteSeconds), path: "/",
                secure: isHTTPS(request), httpOnly: true, sameSite: .strict))
        return response
    }

    /// Whether the browser reached us over https: our own TLS, or a trusted proxy that says so.
    func isHTTPS(_ request: Request) -> Bool {
        if settings.usesTLS { return true }
        guard settings.trustedProxy, let proto = request.headers[.init("X-Forwarded-Proto")!] else { return false }
        return proto.lowercased() == "https"
    }
}
