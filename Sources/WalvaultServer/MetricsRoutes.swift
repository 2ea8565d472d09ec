import Hummingbird
import Synchronization
import WalvaultKit
import WalvaultMaintenance
import WalvaultSystem

/// `GET /metrics` for Prometheus, behind its own bearer token (`[dashboard] metrics_token_file`):
/// a scraper is not the owner and gets nothing else. Without the file the route is off (404).
/// A scrape reads every store, so one gathering serves the scrapes of the next 30 seconds.
extension DashboardServer {
    final class MetricsCache: Sendable {
        private let last = Mutex<(at: Int64, text: String)?>(nil)
        static let seconds: Int64 = 30

        func text(now: Int64, gather: () async -> String) async -> String {
            if let cached = last.withLock({ $0 }), now - cached.at < Self.seconds { return cached.text }
            let text = await gather()
            last.withLock { $0 = (now, text) }
            return text
        }
    }

    func addMetricsRoutes(to router: Router<ServerRequestContext>) {
        router.get("/metrics") { request, _ in
            guard let expected = metricsToken else {
                return APIResponse.refused(
                    "store.not_found", "metrics are off on this server",
                    fix: "set [dashboard] metrics_token_file to a 0600 file holding a long random token (openssl rand -hex 32)")
            }
            let sent = request.headers[.authorization].flatMap(OwnerGuard.bearerToken)
            guard let sent, OwnerGuard.constantTimeEqual(sent, expected) else {
                return APIResponse.refused(
                    "auth.required", "GET /metrics needs the metrics token", fix: "send Authorization: Bearer <the token in metrics_token_file>")
            }
            let context = self.context
            let text = await metricsCache.text(now: clock()) {
                (try? await Self.offRequestThreads { PrometheusText.render(MetricsSnapshot.gather(context: context).samples) }) ?? ""
            }
            return Response(
                status: .ok, headers: [.contentType: PrometheusText.contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }
}
