import Hummingbird
import WalvaultKit
import WalvaultSystem

/// `GET /api/tokens`, `POST /api/tokens` (`name`, `scope`: read or owner; the token in the answer,
/// once), `DELETE /api/tokens/{id}`. Only the owner's own session makes tokens: a token, or the
/// host application's JWT, cannot mint more.
extension DashboardServer {
    struct TokensBody: Encodable {
        let tokens: [APITokens.Listed]
    }

    struct TokenRequest: Decodable {
        let name: String
        let scope: String
    }

    struct TokenCreated: Encodable {
        let token: String
        let id: String
        let name: String
        let scope: APITokens.Scope
    }

    func addTokenRoutes(to router: Router<ServerRequestContext>) {
        router.get("/api/tokens") { _, _ in APIResponse.json(TokensBody(tokens: apiTokens.list())) }
        router.post("/api/tokens") { request, requestContext in
            guard requestContext.sessionToken != nil else {
                return APIResponse.refused(
                    "auth.forbidden", "API tokens are made by the owner's own login, not by a token",
                    fix: "log in to the dashboard and make it there")
            }
            let body: TokenRequest
            switch await Self.decode(TokenRequest.self, from: request, example: "{\"name\": \"deploy\", \"scope\": \"read\"}") {
            case .success(let value): body = value
            case .failure(let refusal): return APIResponse.problem(refusal)
            }
            guard let scope = APITokens.Scope(rawValue: body.scope) else {
                return APIResponse.refused("input.invalid", "scope \"\(body.scope)\" is not one", fix: "use read or owner")
            }
            let name = body.name.trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.utf8.count <= 64, name.unicodeScalars.allSatisfy({ $0.value >= 32 && $0.value != 127 }) else {
                return APIResponse.refused(
                    "input.invalid", "the token's name is empty, too long or not printable", fix: "give a short name, e.g. deploy")
            }
            do {
                let who = actor(request, requestContext)
                let (token, listed) = try apiTokens.create(name: name, scope: scope, by: who.name, now: clock())
                audit("token-create", subject: "\(name) (\(scope.rawValue))", actor: who)
                return APIResponse.json(TokenCreated(token: token, id: listed.id, name: name, scope: scope), status: .created)
            } catch {
                return APIResponse.problem(error)
            }
        }
        router.delete("/api/tokens/:id") { request, requestContext in
            let id = requestContext.parameters.get("id") ?? ""
            do {
                guard try apiTokens.revoke(id: id) else {
                    return APIResponse.refused("store.not_found", "no API token \(id)", fix: "GET /api/tokens lists them")
                }
            } catch {
                return APIResponse.problem(error)
            }
            audit("token-revoke", subject: id, actor: actor(request, requestContext))
            return Response(status: .noContent)
        }
    }
}
