import Hummingbird
import WalvaultCatalog
import WalvaultDrill
import WalvaultKit
import WalvaultService
import WalvaultSystem

/// `POST /api/drill`: a restore drill as a job, the same `walvault drill` runs from cron: the
/// newest backup (or `backup_id`) restored into a private directory under /var/tmp, started,
/// recovered to `target_time` (or the end of the WAL), checked, and removed. It proves the
/// backups restore without touching the cluster, so it needs no confirmation.
extension DashboardServer {
    struct DrillRequest: Decodable {
        let backupId: String?
        let targetTime: String?
    }

    func addDrillRoutes(to router: Router<ServerRequestContext>) {
        router.post("/api/drill") { request, requestContext in
            let body: DrillRequest
            switch await Self.decode(DrillRequest.self, from: request, example: "{} or {\"backup_id\": \"20261204T031500Z\"}") {
            case .success(let value): body = value
            case .failure(let refusal): return APIResponse.problem(refusal)
            }
            let target: RecoveryTarget
            switch Self.recoveryTarget(targetTime: body.targetTime, backupId: body.backupId) {
            case .success(let value): target = value
            case .failure(let refusal): return APIResponse.problem(refusal)
            }
            let config = FileSystem.realPath(context.config.path) ?? context.config.path
            let options = DrillOptions(
                backupLabel: body.backupId, target: target, restoreCommand: "\(context.launcher.executable) --config \(config)")
            return await startJob(DrillOperation(options: options), request, requestContext, subject: body.backupId)
        }
    }
}
