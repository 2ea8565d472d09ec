import Hummingbird
import WalvaultPolicy
import WalvaultService

/// `GET /api/check`: what `walvault check` says, run now through the runner.
extension DashboardServer {
    struct CheckBody: Encodable {
        let checks: [HealthCheck]
        let ok: Bool
    }

    func addCheckRoutes(to router: Router<ServerRequestContext>) {
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
