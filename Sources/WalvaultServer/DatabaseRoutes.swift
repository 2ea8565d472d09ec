import Hummingbird
import WalvaultKit
import WalvaultMaintenance

/// `GET /api/database/stats`: the database's size, tables and rows now, its growth and when its
/// disk fills, and the series for the growth chart.
extension DashboardServer {
    func addDatabaseRoutes(to router: Router<ServerRequestContext>) {
        router.get("/api/database/stats") { _, _ in
            let context = self.context
            do {
                return APIResponse.json(try await Self.offRequestThreads { try DatabaseStats.gather(context: context) })
            } catch {
                return APIResponse.problem(error)
            }
        }
    }

    /// Samples the database's size now and every `sample_minutes`, for the growth chart, for as
    /// long as the server runs; a failed sample is one line in the log, said again only when the
    /// reason changes.
    public func sampleSizes() async {
        guard context.config.history != nil, context.config.cluster.conninfo != nil else { return }
        let context = self.context
        var lastProblem: String?
        while !Task.isCancelled {
            do {
                try await Self.offRequestThreads { _ = try DatabaseStats.sample(context: context) }
                lastProblem = nil
            } catch {
                let problem = "\(error)"
                if problem != lastProblem { ServerLog.warn("cannot sample the database's size: \(problem)") }
                lastProblem = problem
            }
            try? await Task.sleep(for: .seconds(settings.sampleMinutes * 60))
        }
    }
}
