import Hummingbird
import Synchronization
import WalvaultCatalog
import WalvaultExports
import WalvaultHistory
import WalvaultKit
import WalvaultMaintenance
import WalvaultRepository
import WalvaultService
import WalvaultSystem

/// Tenant schema dumps and log exports: list, make (jobs), download, restore; and the host
/// application's paths from the seeds as aliases (`/api/backup/export`, `/api/backup/restore`,
/// `/api/backup/export-logs`). A download goes through a one-time link that lives 5 minutes: the
/// URL a browser history or a proxy log keeps is worthless afterwards, and it still needs the
/// owner's session.
extension DashboardServer {
    /// One-time download links: a random token for an export id, used once, within 5 minutes.
    final class DownloadLinks: Sendable {
        static let lifetime: Int64 = 300
        private let links = Mutex<[String: (id: String, expires: Int64)]>([:])

        func issue(for id: String, now: Int64) -> String {
            let token = SessionStore.randomToken()
            links.withLock { links in
                links = links.filter { $0.value.expires > now }
                links[SessionStore.digest(token)] = (id, now + Self.lifetime)
            }
            return token
        }

        /// The export the token names, once; nil when unknown, used or expired.
        func redeem(_ token: String, now: Int64) -> String? {
            links.withLock { links in
                guard let link = links.removeValue(forKey: SessionStore.digest(token)), link.expires > now else { return nil }
                return link.id
            }
        }
    }

    struct ExportsBody: Encodable {
        struct Export: Encodable {
            let id: String
            let kind: String
            let subject: String
            let time: String
            let format: String
            let stores: [String]
        }
        let exports: [Export]
    }

    struct SchemaExportRequest: Decodable {
        let schema: String?
        /// The seed's field: the tenant's slug, dumped as schema `tenant_<slug>`.
        let tenant: String?
        let format: String?
    }

    struct ExportRestoreRequest: Decodable {
        let id: String?
        /// The seeds' fields: a dump's id, or a store's handle for it (a Telegram file_id).
        let backupId: String?
        let fileId: String?
        let intoSchema: String?
        let replace: Bool?
        let confirmation: String?
        let totp: String?
    }

    struct LogExportRequest: Decodable {
        let table: String?
        let since: String?
        let until: String?
        let format: String?
    }

    func addExportRoutes(to router: Router<ServerRequestContext>) {
        router.get("/api/exports") { _, _ in
            let context = self.context
            do {
                let exports = try await Self.offRequestThreads {
                    let layout = ArchiveLayout(cluster: context.config.cluster.name)
                    return try ExportListing.all(stores: context.stores, layout: layout).map { export, kind in
                        ExportsBody.Export(
                            id: export.id, kind: kind == .dumps ? "dump" : "logs", subject: export.subject,
                            time: RecoveryTarget.formatUTC(export.name.time),
                            format: export.name.format.rawValue, stores: export.copies.map(\.store))
                    }
                }
                return APIResponse.json(ExportsBody(exports: exports))
            } catch {
                return APIResponse.problem(error)
            }
        }
        router.post("/api/exports/schema") { request, requestContext in try await schemaExport(request, requestContext) }
        router.post("/api/backup/export") { request, requestContext in try await schemaExport(request, requestContext) }
        router.get("/api/exports/:schema/:time/download") { _, requestContext in
            let schema = requestContext.parameters.get("schema") ?? ""
            let time = requestContext.parameters.get("time") ?? ""
            guard SQLIdentifier.isValid(schema), StoredObjectName.parseStamp(time) != nil else {
                return APIResponse.refused("store.not_found", "no export \(schema)/\(time)", fix: "GET /api/exports lists them")
            }
            let id = "\(schema)/\(time)"
            let token = downloads.issue(for: id, now: clock())
            return Response(status: .seeOther, headers: [.location: "/api/downloads/\(token)"])
        }
        router.get("/api/downloads/:token") { _, requestContext in
            guard let id = downloads.redeem(requestContext.parameters.get("token") ?? "", now: clock()) else {
                return APIResponse.refused(
                    "store.not_found", "this download link was used already, or is older than 5 minutes",
                    fix: "ask for the export's download again (GET /api/exports/{id}/download)")
            }
            let context = self.context
            let download: ExportDownload
            do {
                download = try await Self.offRequestThreads { try ExportDownload.open(context: context, id: id) }
            } catch {
                return APIResponse.problem(error)
            }
            let body = ResponseBody(contentLength: download.size) { writer in
                let file = download.file
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                while true {
                    let count = try buffer.withUnsafeMutableBytes { try file.read(into: $0) }
                    if count == 0 { break }
                    try await writer.write(ByteBuffer(bytes: buffer[0..<count]))
                }
                try await writer.finish(nil)
                try? file.close()
            }
            return Response(
                status: .ok,
                headers: [.contentType: "application/octet-stream", .contentDisposition: "attachment; filename=\"\(download.fileName)\""],
                body: body)
        }
        router.post("/api/exports/restore") { request, requestContext in try await exportRestore(request, requestContext) }
        router.post("/api/backup/restore") { request, requestContext in try await exportRestore(request, requestContext) }
        router.post("/api/exports/logs") { request, requestContext in try await logExport(request, requestContext) }
        router.post("/api/backup/export-logs") { request, requestContext in try await logExport(request, requestContext) }
    }

    func schemaExport(_ request: Request, _ requestContext: ServerRequestContext) async throws -> Response {
        let body: SchemaExportRequest
        switch await Self.decode(SchemaExportRequest.self, from: request, example: "{\"schema\": \"tenant_acme\"} or {\"tenant\": \"acme\"}") {
        case .success(let value): body = value
        case .failure(let refusal): return APIResponse.problem(refusal)
        }
        // Every field given is checked, the one not used too.
        if let tenant = body.tenant, tenant.isEmpty || tenant.utf8.count > 56 || !SQLIdentifier.isValid("t" + tenant) {
            return APIResponse.refused("input.invalid", "tenant \"\(tenant)\" is not a tenant's slug", fix: "use lower-case letters, digits and _")
        }
        if let schema = body.schema, !SQLIdentifier.isValid(schema) {
            return APIResponse.refused("input.invalid", "schema \"\(schema)\" is not a schema name", fix: "use lower-case letters, digits and _")
        }
        guard let schema = body.schema ?? body.tenant.map({ "tenant_\($0)" }), SQLIdentifier.isValid(schema) else {
            return APIResponse.refused(
                "input.invalid", "the export names no schema, or not a valid one", fix: "send {\"schema\": \"tenant_acme\"} or {\"tenant\": \"acme\"}"
            )
        }
        var options = DumpOptions()
        if let format = body.format {
            guard let parsed = ExportFormat(rawValue: format), parsed.isDump else {
                return APIResponse.refused("input.invalid", "format \"\(format)\" is not a dump format", fix: "use custom or plain")
            }
            options.format = parsed
        }
        return await startJob(DumpOperation(schema: schema, options: options), request, requestContext, subject: schema)
    }

    func exportRestore(_ request: Request, _ requestContext: ServerRequestContext) async throws -> Response {
        let body: ExportRestoreRequest
        switch await Self.decode(ExportRestoreRequest.self, from: request, example: "{\"id\": \"tenant_acme/20261204T031500Z\"}") {
        case .success(let value): body = value
        case .failure(let refusal): return APIResponse.problem(refusal)
        }
        for (name, value) in [("id", body.id), ("backup_id", body.backupId)] {
            guard let value else { continue }
            let parts = value.split(separator: "/", omittingEmptySubsequences: false)
            // The shape only: an id of that shape that names nothing is the job's "not found".
            guard parts.count == 2, SQLIdentifier.isValid(String(parts[0])), StoredObjectName.isStampShaped(parts[1]) else {
                return APIResponse.refused("input.invalid", "\(name) \"\(value)\" is not an export's id", fix: "GET /api/exports lists them")
            }
        }
        if let fileID = body.fileId, fileID.isEmpty {
            return APIResponse.refused("input.invalid", "file_id is empty", fix: "give the store's handle, or \"id\"")
        }
        if let typed = body.confirmation, typed != "RESTORE" {
            return APIResponse.refused("auth.confirmation", "the confirmation must be exactly RESTORE", fix: "type RESTORE")
        }
        if let code = body.totp, code.utf8.count != 6 || !code.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            return APIResponse.refused("input.invalid", "totp \"\(code)\" is not a 6-digit code", fix: "send the code the app shows now")
        }
        var id = body.id ?? body.backupId
        if id == nil, let fileID = body.fileId {
            id = try? await exportID(forFileID: fileID)
            guard id != nil else {
                return APIResponse.refused(
                    "store.not_found", "no export in the history has file_id \(fileID)", fix: "GET /api/exports lists them by id")
            }
        }
        guard let id else {
            return APIResponse.refused(
                "input.invalid", "the restore names no export", fix: "send \"id\" (GET /api/exports), \"backup_id\" or \"file_id\"")
        }
        if let into = body.intoSchema, !SQLIdentifier.isValid(into) {
            return APIResponse.refused("input.invalid", "into_schema \"\(into)\" is not a schema name", fix: "use letters, digits and _")
        }
        // Over the schema that exists now: the overwrite warning is the typed word and a new code.
        let replace = body.replace ?? false
        if replace {
            if let refusal = destructive.refusal(
                word: "RESTORE", typed: body.confirmation, code: body.totp,
                action: "restoring \(id) over the schema that exists now (it is kept aside, not dropped)", sessionToken: requestContext.sessionToken,
                now: clock())
            {
                audit("dump-restore", subject: id, failed: refusal, actor: actor(request, requestContext))
                return APIResponse.problem(refusal)
            }
        }
        let options = DumpRestoreOptions(id: id, intoSchema: body.intoSchema, replace: replace)
        return await startJob(DumpRestoreOperation(options: options), request, requestContext, subject: id)
    }

    /// The history's row for a stored object by its handle (a Telegram file_id), as the seeds ask.
    func exportID(forFileID fileID: String) async throws -> String? {
        guard context.config.history != nil else { return nil }
        let config = context.config
        var filter = HistoryQuery.Filter(type: "database", operation: "dump", limit: 1, newestFirst: true)
        filter.fileID = fileID
        let lookup = filter
        return try await Self.offRequestThreads { try ControlPlane(config: config).rows(lookup).first?["object_name"] }
    }

    func logExport(_ request: Request, _ requestContext: ServerRequestContext) async throws -> Response {
        let body: LogExportRequest
        switch await Self.decode(LogExportRequest.self, from: request, example: "{\"table\": \"project_logs\", \"format\": \"jsonl\"}") {
        case .success(let value): body = value
        case .failure(let refusal): return APIResponse.problem(refusal)
        }
        var options = ExportLogsOptions()
        if let table = body.table {
            guard SQLIdentifier.isValid(table) else {
                return APIResponse.refused("input.invalid", "table \"\(table)\" is not a table name", fix: "use letters, digits and _")
            }
            options.table = table
        }
        if let format = body.format {
            // The seed says "JSON or text".
            let named: ExportFormat? = format == "json" ? .jsonl : format == "text" ? .csv : ExportFormat(rawValue: format)
            guard let named, !named.isDump else {
                return APIResponse.refused("input.invalid", "format \"\(format)\" is not a log export format", fix: "use jsonl (json) or csv (text)")
            }
            options.format = named
        }
        for (name, value) in [("since", body.since), ("until", body.until)] {
            guard let value else { continue }
            guard let micros = RecoveryTarget.parseTime(value) else {
                return APIResponse.refused("input.invalid", "\(name) \"\(value)\" is not a moment", fix: "use 'YYYY-MM-DD HH:MM:SS+00'")
            }
            if name == "since" { options.since = micros } else { options.until = micros }
        }
        return await startJob(ExportLogsOperation(options: options), request, requestContext, subject: options.table)
    }
}
