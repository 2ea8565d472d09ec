import Hummingbird
import WalvaultPolicy
import WalvaultService

/// `GET /api/check`: what `walvault check` says, run now through the runner; and
/// `GET /api/openapi.json`, the API's description (`openapi.json`, compiled into the binary), which
/// every answer of the API matches (schemathesis checks it in the tests).
extension DashboardServer {
    struct CheckBody: Encodable {
        let checks: [HealthCheck]
        let ok: Bool
    }

    func addCheckRoutes(to router: Router<ServerRequestContext>) {
        router.get("/api/openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: PackageResources.openapi_json)))
        }
        router.get("/api/check") { _, _ in
            let context = self.context
            do {
                let checks = try await Self.offRequestThreads { try OperationRunner().run(CheckOperation(), context: context).result.get() }
                return APIResponse.json(CheckBody(checks: checks, ok: checks.allSatisfy(\.ok)))
            } catch {
                return APIResponse.problem(error)
            }
        }
    }
}
