import Hummingbird
import WalvaultKit

/// `GET /api/jobs`, `GET /api/jobs/{id}`: every job of this cluster, from any process (their status
/// files); `POST /api/jobs/{id}/cancel`: stops one this server runs, and says who asked.
extension DashboardServer {
    struct JobsBody: Encodable {
        let jobs: [JobStatus]
    }

    func addJobRoutes(to router: Router<ServerRequestContext>) {
        router.get("/api/jobs") { _, _ in APIResponse.json(JobsBody(jobs: context.jobs)) }
        router.get("/api/jobs/:id") { _, requestContext in
            let id = requestContext.parameters.get("id") ?? ""
            guard let job = context.jobs.first(where: { $0.id == id }) else {
                return APIResponse.refused("store.not_found", "no job \(id) in this cluster's spool", fix: "GET /api/jobs lists them")
            }
            return APIResponse.json(job)
        }
        router.post("/api/jobs/:id/cancel") { request, requestContext in
            let id = requestContext.parameters.get("id") ?? ""
            guard jobs.cancel(id) else {
                return APIResponse.refused(
                    "store.not_found", "this server runs no job \(id)", fix: "GET /api/jobs lists the jobs; a finished one cannot be cancelled")
            }
            audit("cancel", subject: id, actor: actor(request, requestContext))
            return APIResponse.json(JobStarted(jobId: id), status: .accepted)
        }
    }
}
