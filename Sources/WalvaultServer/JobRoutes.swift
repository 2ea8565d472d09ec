import Hummingbird
import WalvaultKit

/// `GET /api/jobs`, `GET /api/jobs/{id}`: every job of this cluster, from any process (their status
/// files); `GET /api/jobs/{id}/events`: the job's status as server-sent events, each time it
/// changes, until it ends (a page falls back to polling `GET /api/jobs/{id}` without them);
/// `POST /api/jobs/{id}/cancel`: stops one this server runs, and says who asked.
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
        router.get("/api/jobs/:id/events") { _, requestContext in
            let id = requestContext.parameters.get("id") ?? ""
            let directory = context.jobStatusDirectory
            guard let first = directory.status(id: id), first.cluster == context.config.cluster.name else {
                return APIResponse.refused("store.not_found", "no job \(id) in this cluster's spool", fix: "GET /api/jobs lists them")
            }
            let body = ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                var last: JobStatus?
                var quiet = 0
                while let status = directory.status(id: id) {
                    if status != last {
                        last = status
                        quiet = 0
                        try await writer.write(ByteBuffer(string: "event: status\ndata: "))
                        try await writer.write(ByteBuffer(bytes: APIResponse.encode(status)))
                        try await writer.write(ByteBuffer(string: "\n\n"))
                    }
                    if status.state != .running { break }
                    try await Task.sleep(for: .milliseconds(500))
                    quiet += 1
                    // A comment now and then keeps proxies from closing a quiet stream.
                    if quiet % 30 == 0 { try await writer.write(ByteBuffer(string: ": still running\n\n")) }
                }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8"], body: body)
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
