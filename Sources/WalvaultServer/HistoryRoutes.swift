import Hummingbird
import WalvaultCatalog
import WalvaultHistory
import WalvaultKit
import WalvaultMaintenance

/// `GET /api/history`: the history table, newest first, filtered and paged by the database.
extension DashboardServer {
    func addHistoryRoutes(to router: Router<ServerRequestContext>) {
        router.get("/api/history") { request, _ in
            let filter: HistoryQuery.Filter
            switch Self.historyFilter(request.uri.queryParameters) {
            case .success(let parsed): filter = parsed
            case .failure(let refusal): return APIResponse.problem(refusal)
            }
            let config = context.config
            do {
                let rows = try await Self.offRequestThreads { try ControlPlane(config: config).rows(filter) }
                return APIResponse.json(HistoryPage(rows: rows, limit: filter.limit ?? 0, offset: filter.offset))
            } catch {
                return APIResponse.problem(error)
            }
        }
    }

    struct HistoryPage: Encodable {
        let rows: [[String: String]]
        let limit: Int
        let offset: Int
    }

    /// `?type=&status=&operation=&store=&since=&limit=&offset=`: newest first, 100 rows a page
    /// unless told (at most 1000); anything else is one 400 naming the parameter.
    static func historyFilter(_ query: Parameters) -> Result<HistoryQuery.Filter, CommandError> {
        func refuse(_ name: String, _ value: String, _ fix: String) -> Result<HistoryQuery.Filter, CommandError> {
            .failure(CommandError(problem: "\(name)=\(value) is not accepted", fix: fix, errorCode: "input.invalid"))
        }
        var filter = HistoryQuery.Filter(limit: 100, newestFirst: true)
        if let type = query.get("type") {
            guard HistoryRecord.Kind(rawValue: type) != nil else { return refuse("type", type, "use wal, database, storage, logs or audit") }
            filter.type = type
        }
        if let status = query.get("status") {
            guard HistoryRecord.Status(rawValue: status) != nil else { return refuse("status", status, "use succeeded, failed or interrupted") }
            filter.status = status
        }
        filter.operation = query.get("operation")
        filter.store = query.get("store")
        if var since = query.get("since") {
            // A form encoder sends the space between date and time as '+'.
            if since.count > 10, since[since.index(since.startIndex, offsetBy: 10)] == "+" {
                since.replaceSubrange(since.index(since.startIndex, offsetBy: 10)...since.index(since.startIndex, offsetBy: 10), with: " ")
            }
            guard let micros = RecoveryTarget.parseTime(since) else { return refuse("since", since, "use 'YYYY-MM-DD HH:MM:SS+00'") }
            filter.since = RecoveryTarget.formatUTC(micros)
        }
        if let limit = query.get("limit") {
            guard let value = Int(limit), (1...1000).contains(value) else { return refuse("limit", limit, "use 1 to 1000") }
            filter.limit = value
        }
        if let offset = query.get("offset") {
            guard let value = Int(offset), (0...1_000_000_000).contains(value) else { return refuse("offset", offset, "use 0 to 1000000000") }
            filter.offset = value
        }
        return .success(filter)
    }
}
