import Hummingbird
import WalvaultCatalog
import WalvaultHistory
import WalvaultKit
import WalvaultMaintenance
import WalvaultService

/// The backups in the stores and what the owner does to them: list, detail, back up now, verify,
/// delete (typed DELETE and a fresh TOTP code; refused while point-in-time recovery needs it).
extension DashboardServer {
    struct BackupsPage: Encodable {
        let backups: [InfoReport.Backup]
        let total: Int
        let limit: Int
        let offset: Int
        let incomplete: [InfoReport.IncompleteBackup]
        let damaged: [InfoReport.DamagedBackup]
    }

    struct BackupDetail: Encodable {
        let backup: InfoReport.Backup
        /// The newest verification of it, from the history: when, by whom, and its outcome.
        let verification: [String: String]?
    }

    struct Confirmation: Decodable {
        let confirmation: String?
        let totp: String?
    }

    func addBackupRoutes(to router: Router<ServerRequestContext>) {
        router.get("/api/backups") { request, _ in
            let query = request.uri.queryParameters
            let limit = query.get("limit").map { Int($0) ?? -1 } ?? 100
            let offset = query.get("offset").map { Int($0) ?? -1 } ?? 0
            guard (1...1000).contains(limit) else {
                return APIResponse.refused("input.invalid", "limit=\(query.get("limit") ?? "") is not accepted", fix: "use 1 to 1000")
            }
            guard (0...1_000_000_000).contains(offset) else {
                return APIResponse.refused("input.invalid", "offset=\(query.get("offset") ?? "") is not accepted", fix: "use 0 to 1000000000")
            }
            let store = query.get("store")
            if let store, !context.stores.contains(where: { $0.name == store }) {
                return APIResponse.refused(
                    "store.not_found", "no store named \"\(store)\"", fix: "use one of \(context.stores.map(\.name).joined(separator: ", "))")
            }
            do {
                let report = try await info()
                let matching = report.backups.reversed().filter { store == nil || $0.stores.contains(store!) }
                return APIResponse.json(
                    BackupsPage(
                        backups: Array(matching.dropFirst(offset).prefix(limit)), total: matching.count, limit: limit, offset: offset,
                        incomplete: report.incomplete, damaged: report.damagedBackups))
            } catch {
                return APIResponse.problem(error)
            }
        }
        router.post("/api/backups") { request, requestContext in
            var level: BackupLevel?
            if let type = request.uri.queryParameters.get("type") {
                guard let asked = BackupLevel(rawValue: type) else {
                    return APIResponse.refused("input.invalid", "type=\(type) is not a backup type", fix: "use full, diff or incr, or leave it out")
                }
                level = asked
            }
            return await startJob(BackupOperation(level: level), request, requestContext)
        }
        router.get("/api/backups/:label") { _, requestContext in
            let label = requestContext.parameters.get("label") ?? ""
            do {
                guard let backup = try await info().backups.first(where: { $0.label == label }) else {
                    return APIResponse.refused(
                        "store.not_found", "no store holds a complete backup \(label)", fix: "GET /api/backups lists them")
                }
                return APIResponse.json(BackupDetail(backup: backup, verification: try await lastVerification(of: label)))
            } catch {
                return APIResponse.problem(error)
            }
        }
        router.post("/api/backups/:label/verify") { request, requestContext in
            let label = requestContext.parameters.get("label") ?? ""
            guard BackupLabel.isValid(label) else {
                return APIResponse.refused("input.invalid", "\"\(label)\" is not a backup label", fix: "GET /api/backups lists them")
            }
            return await startJob(VerifyOperation(backupLabel: label), request, requestContext, subject: label)
        }
        router.post("/api/verify") { request, requestContext in await startJob(VerifyOperation(), request, requestContext) }
        router.delete("/api/backups/:label") { request, requestContext in
            let label = requestContext.parameters.get("label") ?? ""
            let body: Confirmation
            switch await Self.decode(Confirmation.self, from: request, example: "{\"confirmation\": \"DELETE\", \"totp\": \"123456\"}") {
            case .success(let value): body = value
            case .failure(let refusal): return APIResponse.problem(refusal)
            }
            if let refusal = jobs.conflict(for: .deleteBackup, context: context) { return APIResponse.problem(refusal) }
            if let refusal = destructive.refusal(
                word: "DELETE", typed: body.confirmation, code: body.totp, action: "deleting backup \(label)",
                sessionToken: requestContext.sessionToken, now: clock())
            {
                audit("delete-backup", subject: label, failed: refusal, actor: actor(request, requestContext))
                return APIResponse.problem(refusal)
            }
            // Refused at once, not as a failed job, when the backup is still needed.
            let context = self.context
            do {
                _ = try await Self.offRequestThreads { try DeleteBackup(context: context, label: label).judge() }
            } catch {
                return APIResponse.problem(error)
            }
            return await startJob(DeleteBackupOperation(label: label), request, requestContext, subject: label)
        }
    }

    /// What the stores hold, read off the request threads through the runner, as `walvault info` reads it.
    func info() async throws -> InfoReport {
        let context = self.context
        return try await Self.offRequestThreads { try OperationRunner().run(InfoOperation(), context: context).result.get() }
    }

    func lastVerification(of label: String) async throws -> [String: String]? {
        guard context.config.history != nil else { return nil }
        let config = context.config
        var filter = HistoryQuery.Filter(operation: "verify", limit: 1, newestFirst: true)
        filter.objectName = label
        let labelled = filter
        let rows = try await Self.offRequestThreads { try ControlPlane(config: config).rows(labelled) }
        return rows.first
    }
}
