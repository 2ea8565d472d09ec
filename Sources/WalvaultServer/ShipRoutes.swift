import Hummingbird
import WalvaultKit
import WalvaultService

/// `POST /api/ship`: "Send to Telegram now", for every async store: their queues drained as a job
/// instead of at the background shipper's next turn. A failed object fails the job; it stays
/// queued, never lost.
extension DashboardServer {
    func addShipRoutes(to router: Router<ServerRequestContext>) {
        router.post("/api/ship") { request, requestContext in
            guard !context.asyncIndexes.isEmpty else {
                return APIResponse.problem(
                    CommandError(
                        problem: "no store is async: every object is written to every store as it is archived, so nothing waits to ship",
                        fix: "nothing to do; stores with mode = \"async\" (Telegram's always) are shipped", errorCode: "command.refused"))
            }
            return await startJob(ShipOperation(failOnFailures: true), request, requestContext)
        }
    }
}
