import Hummingbird
import WalvaultCatalog
import WalvaultHistory
import WalvaultKit
import WalvaultMaintenance
import WalvaultPolicy
import WalvaultRepository
import WalvaultSystem

/// The owner's pages: overview, backups (the stores' and the history), one backup, restore, and a
/// job's live progress. Each reads through the same library calls as the API, off the request
/// threads; a source that cannot be read is said on the page, and the rest still shows.
extension DashboardServer {
    func addPageRoutes(to router: Router<ServerRequestContext>) {
        router.get("/login") { _, _ in pages.render("login", [:]) }
        router.get("/static/:file") { request, _ in
            Pages.asset(request.uri.path) ?? APIResponse.refused("store.not_found", "no such file: \(request.uri.path)", fix: "")
        }
        router.get("/") { _, requestContext in try await overview(requestContext) }
        router.get("/backups") { request, requestContext in try await backupsPage(request, requestContext) }
        router.get("/backups/:label") { _, requestContext in try await backupPage(requestContext) }
        router.get("/restore") { _, requestContext in try await restorePage(requestContext) }
        router.get("/jobs/:id") { _, requestContext in jobPage(requestContext) }
        router.get("/exports") { _, requestContext in try await exportsPage(requestContext) }
        router.get("/exports/:subject/:time") { _, requestContext in try await exportPage(requestContext) }
    }

    func base(_ title: String, _ requestContext: ServerRequestContext) -> [String: Any] {
        ["title": title, "csrf": requestContext.csrfToken ?? "", "cluster": context.config.cluster.name, "subject": requestContext.subject ?? "owner"]
    }

    /// Reads that may fail: the value, or the line the page shows instead.
    func attempt<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async -> Result<T, CommandError> {
        do {
            return .success(try await Self.offRequestThreads(body))
        } catch {
            return .failure(CommandError(problem: "\(error)", fix: ""))
        }
    }

    /// What the stores hold, through the runner's `InfoOperation` as `GET /api/backups` reads it.
    func readInfo() async -> Result<InfoReport, CommandError> {
        do {
            return .success(try await info())
        } catch {
            return .failure(CommandError(problem: "\(error)", fix: ""))
        }
    }

    func overview(_ requestContext: ServerRequestContext) async throws -> Response {
        var values = base("Overview", requestContext)
        let context = self.context
        let now = WallClock.nowMicros()
        switch await attempt({ try DatabaseStats.gather(context: context, now: now) }) {
        case .success(let stats):
            var shown: [String: Any] = [
                "database": stats.database, "size": HumanBytes.text(stats.bytes), "tables": stats.tables, "rows": stats.rowEstimate,
                "free": stats.freeBytes.map(HumanBytes.text) ?? "not known"
            ]
            // Mustache shows a key that is there: an absent figure is left out, never "nil".
            if stats.daily != nil {
                shown["growth"] = [
                    "daily": HumanBytes.signed(stats.daily), "weekly": HumanBytes.signed(stats.weekly), "monthly": HumanBytes.signed(stats.monthly)
                ]
            }
            if let fullBy = stats.fullBy { shown["fullBy"] = fullBy }
            values["stats"] = shown
            let points = stats.series.compactMap { point in RecoveryTarget.parseTime(point.at).map { SVGChart.Point(at: $0, value: point.bytes) } }
            values["chart"] =
                SVGChart.growth(points, label: HumanBytes.text, date: { String(RecoveryTarget.formatUTC($0).prefix(16)) })
                ?? "<p id=\"growth-chart-empty\">The growth chart appears once two sizes have been sampled (every sample_minutes, and at each walvault check).</p>"
        case .failure(let problem):
            values["statsError"] = problem.problem
        }
        switch await readInfo() {
        case .success(let info):
            // The newest attempt, when it did not end in a backup: a failure must not hide behind
            // the last success.
            let newestStop = info.backups.last.flatMap { RecoveryTarget.parseTime($0.stopTime) } ?? 0
            if let attempt = context.jobs.first(where: { $0.operation == .backup }), attempt.state != .succeeded,
                attempt.startedAt > newestStop
            {
                values["lastAttempt"] = [
                    "state": attempt.state.rawValue, "started": RecoveryTarget.formatUTC(attempt.startedAt), "id": attempt.id,
                    "error": attempt.error ?? "", "failed": attempt.state != .running
                ]
            }
            if let newest = info.backups.last {
                let stop = RecoveryTarget.parseTime(newest.stopTime) ?? now
                values["lastBackup"] = [
                    "label": newest.label, "stopTime": newest.stopTime, "age": BackupLabel.age(from: stop, to: now),
                    "size": HumanBytes.text(Int64(newest.size)), "stores": newest.stores.joined(separator: ", ")
                ]
            }
            values["stores"] = info.stores.map { store -> [String: Any] in
                var lag = "nothing"
                if let queued = store.queuedObjects, queued > 0 {
                    lag = "\(queued) objects (\(HumanBytes.text(Int64(store.queuedBytes ?? 0)))), the oldest for \(store.oldestQueuedSeconds ?? 0) s"
                } else if store.queuedObjects == nil {
                    lag = "written at once (sync)"
                }
                let oldest = info.backups.first { $0.stores.contains(store.name) }?.stopTime ?? "no backup yet"
                let price = context.config.stores.first { $0.name == store.name }?.pricePerGBMonth
                return [
                    "name": store.name, "mode": store.mode, "bytes": HumanBytes.text(Int64(store.bytes)), "lag": lag, "restorableFrom": oldest,
                    "restorableTo": store.newestWAL.map { "WAL \($0)" } ?? "no WAL yet",
                    "cost": StorageCost.monthly(bytes: store.bytes, pricePerGBMonth: price).map(StorageCost.text) ?? "price_per_gb_month not set"
                ]
            }
        case .failure(let problem):
            values["infoError"] = problem.problem
        }
        values["disks"] = DiskSpace.measure(context.config).map { disk -> [String: Any] in
            guard let free = disk.freeBytes, let total = disk.totalBytes, total > 0 else {
                return ["what": disk.what, "path": disk.path, "unreadable": disk.unreadable ?? "cannot be measured"]
            }
            return [
                "what": disk.what, "path": disk.path, "used": total - free, "total": total, "low": Double(free) / Double(total) < 0.1,
                "figure": "\(HumanBytes.text(Int64(free))) free of \(HumanBytes.text(Int64(total)))",
                "minFree": total / 100 * (100 - context.config.check.minFreePercent)
            ]
        }
        switch await attempt({ try ArchiverStatistics.read(context: context) }) {
        case .success(let archiver):
            var shown: [String: Any] = [
                "archived": archiver.archivedCount,
                "lastArchived": archiver.lastArchivedWAL.map { "\($0) at \(archiver.lastArchivedTime ?? "")" } ?? "none yet",
                "failed": archiver.failedCount, "failing": archiver.failing, "reset": archiver.statsReset ?? "never"
            ]
            if let wal = archiver.lastFailedWAL { shown["lastFailed"] = "\(wal) at \(archiver.lastFailedTime ?? "")" }
            values["archiver"] = shown
        case .failure(let problem):
            values["archiverError"] = problem.problem
        }
        if let last = LastCheck.load(context: context) {
            values["lastCheck"] = [
                "at": RecoveryTarget.formatUTC(last.at), "ok": last.ok, "age": BackupLabel.age(from: last.at, to: now),
                "failures": last.checks.filter { !$0.ok }.map { ["name": $0.name, "figure": $0.figure, "fix": $0.fix ?? ""] }
            ]
        }
        values["asyncStores"] = context.config.stores.contains { $0.mode == .async }
        values["shipLabel"] = context.config.stores.contains { $0.telegramChatID != nil } ? "Send to Telegram now" : "Ship to the async stores now"
        values["jobs"] = context.jobs.prefix(10).map { job -> [String: Any] in
            ["id": job.id, "summary": job.summary, "started": RecoveryTarget.formatUTC(job.startedAt), "actor": job.actor, "origin": job.origin]
        }
        return pages.render("overview", values)
    }

    func backupsPage(_ request: Request, _ requestContext: ServerRequestContext) async throws -> Response {
        var values = base("Backups", requestContext)
        let context = self.context
        if case .success(let info) = await readInfo() {
            values["backups"] = info.backups.reversed().map(backupValues)
        }
        let query = request.uri.queryParameters
        values["types"] = ["database", "wal", "logs", "storage", "audit"].map { ["name": $0, "selected": query.get("type") == $0] }
        values["statuses"] = ["succeeded", "failed", "interrupted"].map { ["name": $0, "selected": query.get("status") == $0] }
        values["operation"] = query.get("operation") ?? ""
        values["store"] = query.get("store") ?? ""
        switch Self.historyFilter(query) {
        case .success(let filter):
            guard context.config.history != nil else {
                values["historyError"] = "No [history] section in the config: the history is not kept."
                return pages.render("backups", values)
            }
            let config = context.config
            switch await attempt({ try ControlPlane(config: config).rows(filter) }) {
            case .success(let rows):
                values["rows"] = rows.map { row -> [String: Any] in
                    var shown: [String: Any] = row
                    if let detail = Self.detailLink(row) { shown["detail"] = detail }
                    return shown
                }
                func link(_ offset: Int) -> String {
                    var parts = ["offset=\(offset)"]
                    for name in ["type", "status", "operation", "store", "since", "limit"] {
                        if let value = query.get(name), let escaped = value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) {
                            parts.append("\(name)=\(escaped)")
                        }
                    }
                    return "/backups?" + parts.joined(separator: "&")
                }
                let limit = filter.limit ?? 100
                if filter.offset > 0 { values["previous"] = link(max(0, filter.offset - limit)) }
                if rows.count == limit { values["next"] = link(filter.offset + limit) }
            case .failure(let problem):
                values["historyError"] = problem.problem
            }
        case .failure(let refusal):
            values["historyError"] = refusal.problem
        }
        return pages.render("backups", values)
    }

    /// The page of what a history row is about: a base backup's, a dump's or a log export's.
    static func detailLink(_ row: [String: String]) -> String? {
        guard row["status"] == "succeeded", let name = row["object_name"], !name.isEmpty else { return nil }
        switch row["operation"] {
        case "backup" where BackupLabel.isValid(name): return "/backups/\(name)"
        case "dump", "export-logs":
            let parts = name.split(separator: "/")
            guard parts.count == 2, SQLIdentifier.isValid(String(parts[0])), StoredObjectName.isStampShaped(parts[1]) else { return nil }
            return "/exports/\(name)"
        default: return nil
        }
    }

    /// One dump or log export: where its copies are, its checksum, every history row that names
    /// it (made, shipped, restored), the last verification of everything, and its actions.
    func exportPage(_ requestContext: ServerRequestContext) async throws -> Response {
        let id = "\(requestContext.parameters.get("subject") ?? "")/\(requestContext.parameters.get("time") ?? "")"
        var values = base("Export \(id)", requestContext)
        let context = self.context
        switch await attempt({
            try ExportListing.find(
                id: id, in: ExportListing.all(stores: context.stores, layout: ArchiveLayout(cluster: context.config.cluster.name)).map(\.export))
        }) {
        case .success(let export):
            values["export"] = [
                "id": export.id, "subject": export.subject, "time": RecoveryTarget.formatUTC(export.name.time),
                "format": export.name.format.rawValue, "dump": export.name.format.isDump, "sha256": export.name.sha256,
                "copies": export.copies.map { ["store": $0.store, "key": $0.object.key, "size": HumanBytes.text(Int64($0.object.size))] }
            ]
        case .failure(let problem):
            values["pageError"] = problem.problem
            return pages.render("export", values)
        }
        if context.config.history != nil {
            let config = context.config
            var named = HistoryQuery.Filter(limit: 50, newestFirst: true)
            named.objectName = id
            let filter = named
            switch await attempt({ try ControlPlane(config: config).rows(filter) }) {
            case .success(let rows): values["rows"] = rows
            case .failure(let problem): values["historyError"] = problem.problem
            }
            let verifies = HistoryQuery.Filter(operation: "verify", limit: 50, newestFirst: true)
            if case .success(let rows) = await attempt({ try ControlPlane(config: config).rows(verifies) }),
                let everything = rows.first(where: { ($0["object_name"] ?? "").isEmpty })
            {
                values["verification"] =
                    "\(everything["status"] ?? "") \(everything["created_at"] ?? "") by \(everything["actor"] ?? "") (\(everything["origin"] ?? ""))"
            }
        }
        return pages.render("export", values)
    }

    func backupValues(_ backup: InfoReport.Backup) -> [String: Any] {
        let stop = RecoveryTarget.parseTime(backup.stopTime) ?? WallClock.nowMicros()
        var values: [String: Any] = [
            "label": backup.label, "stopTime": backup.stopTime, "startTime": backup.startTime, "size": HumanBytes.text(Int64(backup.size)),
            "storedSize": HumanBytes.text(Int64(backup.storedSize)), "stores": backup.stores.joined(separator: ", "), "files": backup.files,
            "parts": backup.parts ?? 0, "timeline": backup.timeline, "startLSN": backup.startLSN, "stopLSN": backup.stopLSN,
            "postgresVersion": backup.postgresVersion.map(String.init) ?? "", "systemIdentifier": backup.systemIdentifier ?? "",
            "age": BackupLabel.age(from: stop, to: WallClock.nowMicros()), "type": backup.type
        ]
        // Set only when there is something to say: an absent key is a section the page leaves out.
        if let prior = backup.prior { values["prior"] = prior }
        if !backup.chain.isEmpty { values["chain"] = backup.chain.joined(separator: ", ") }
        if let missing = backup.missingParts { values["damaged"] = "parts it needs are in no store: " + missing.prefix(3).joined(separator: ", ") }
        return values
    }

    func backupPage(_ requestContext: ServerRequestContext) async throws -> Response {
        let label = requestContext.parameters.get("label") ?? ""
        var values = base("Backup \(label)", requestContext)
        switch await readInfo() {
        case .success(let info):
            guard let backup = info.backups.first(where: { $0.label == label }) else {
                values["pageError"] = "no store holds a complete backup \(label)"
                return pages.render("backup", values)
            }
            var shown = backupValues(backup)
            let verification = (try? await lastVerification(of: label)) ?? nil
            shown["verification"] =
                verification.map { "\($0["status"] ?? "") \($0["created_at"] ?? "") by \($0["actor"] ?? "") (\($0["origin"] ?? ""))" }
                ?? "not verified from the dashboard yet"
            values["backup"] = shown
        case .failure(let problem):
            values["pageError"] = problem.problem
        }
        return pages.render("backup", values)
    }

    func restorePage(_ requestContext: ServerRequestContext) async throws -> Response {
        var values = base("Restore", requestContext)
        let context = self.context
        let now = WallClock.nowMicros()
        if case .success(let info) = await readInfo() {
            let stops = info.backups.compactMap { RecoveryTarget.parseTime($0.stopTime) }
            if let first = info.backups.first {
                values["window"] = ["start": first.stopTime, "timeline": SVGChart.timeline(backups: stops, now: now) ?? ""]
            }
            values["backups"] = info.backups.reversed().map(backupValues)
        }
        values["defaultDirectory"] = context.config.cluster.pgdata.map { "\($0)-restored-<now>" } ?? "/var/lib/postgresql/15/restored"
        return pages.render("restore", values)
    }

    func exportsPage(_ requestContext: ServerRequestContext) async throws -> Response {
        var values = base("Exports", requestContext)
        let context = self.context
        switch await attempt({
            let layout = ArchiveLayout(cluster: context.config.cluster.name)
            return try ExportListing.all(stores: context.stores, layout: layout).map { export, kind -> [String: String] in
                [
                    "id": export.id, "kind": kind == .dumps ? "schema dump" : "log export", "time": RecoveryTarget.formatUTC(export.name.time),
                    "format": export.name.format.rawValue,
                    "stores": export.copies.map(\.store).joined(separator: ", ")
                ]
            }
        }) {
        case .success(let exports): values["exports"] = exports
        case .failure(let problem): values["exportsError"] = problem.problem
        }
        return pages.render("exports", values)
    }

    func jobPage(_ requestContext: ServerRequestContext) -> Response {
        let id = requestContext.parameters.get("id") ?? ""
        var values = base("Job", requestContext)
        guard let job = context.jobStatusDirectory.status(id: id), job.cluster == context.config.cluster.name else {
            values["id"] = id
            values["state"] = "unknown"
            values["error"] = "no job \(id) in this cluster's spool"
            return pages.render("job", values)
        }
        values["title"] = "\(job.operation.rawValue) \(job.id)"
        values["id"] = job.id
        values["operation"] = job.operation.rawValue
        values["started"] = RecoveryTarget.formatUTC(job.startedAt)
        values["actor"] = job.actor
        values["origin"] = job.origin
        values["state"] = job.state.rawValue
        values["phase"] = job.progress?.phase ?? ""
        if let percent = job.state == .succeeded ? 100 : job.progress?.percent { values["percent"] = percent }
        values["error"] = job.error ?? ""
        return pages.render("job", values)
    }
}
