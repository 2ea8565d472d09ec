import Foundation
import Testing
import WalvaultHTTP
import WalvaultKit
import WalvaultServer

/// Jobs started from the API against a real PostgreSQL 15: they run in the server's process
/// through the runner, their status files name the owner and the address, the CLI sees them, and
/// a server killed mid-job says so in the history at its next start.
@Suite(.serialized) struct ServerJobTests {
    @Test func backupNowRunsAsAJobTheCLISeesAndCancelNamesOnlyRunningJobs() throws {
        let server = try ServerFixture()
        try server.cluster.sql("CREATE TABLE t AS SELECT g FROM generate_series(1, 10000) g")
        #expect(try server.login().0 == 201)

        #expect(try server.call("POST", "/api/backups", csrf: false).status == 403, "no CSRF token, no backup")
        let started = try server.call("POST", "/api/backups")
        #expect(started.status == 202)
        let id = try #require(started.body["job_id"] as? String)
        // Live progress: server-sent events until the job ends, the last one its end.
        let (eventsResponse, eventBytes) = try server.http.perform(
            HTTPRequest(method: "GET", url: "http://127.0.0.1:\(server.port)/api/jobs/\(id)/events", headers: [("Cookie", server.cookie)]))
        #expect(eventsResponse.status == 200 && eventsResponse.header("Content-Type")?.hasPrefix("text/event-stream") == true)
        let events = String(decoding: eventBytes, as: UTF8.self).components(separatedBy: "\n\n").filter { $0.hasPrefix("event: status\ndata: ") }
        let statuses = events.compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.dropFirst("event: status\ndata: ".count).utf8))) as? [String: Any]
        }
        #expect(statuses.count == events.count && !statuses.isEmpty, "\(events)")
        #expect(statuses.last?["state"] as? String == "succeeded", "\(statuses)")
        #expect(try server.call("GET", "/api/jobs/..%2F..%2Fetc/events").status == 404)
        #expect(try server.call("GET", "/api/jobs/no-such-job/events").status == 404)
        let job = try server.finished(id)
        #expect(job["state"] as? String == "succeeded", "\(job)")
        #expect(job["actor"] as? String == "owner")
        #expect(job["origin"] as? String == "dashboard from 10.0.0.9")
        #expect(job["operation"] as? String == "backup")

        // The CLI sees the job and the backup, as it sees the ones cron starts.
        let status = try server.ws.walvault(["status", "--config", server.config], asPostgres: true)
        #expect(status.stdout.contains(id), "\(status.stdout)")
        let info = try server.ws.walvault(["info", "--json", "--config", server.config], asPostgres: true)
        let report = (try? JSONSerialization.jsonObject(with: Data(info.stdout.utf8))) as? [String: Any]
        #expect((report?["backups"] as? [Any])?.count == 1, "\(info.stdout) \(info.stderr)")
        #expect(try server.call("POST", "/api/jobs/\(id)/cancel").status == 404, "a finished job cannot be cancelled")

        // Prometheus: its own token, nothing else opens it.
        func metrics(_ headers: [(String, String)]) throws -> (Int, String) {
            let (response, bytes) = try server.http.perform(
                HTTPRequest(method: "GET", url: "http://127.0.0.1:\(server.port)/metrics", headers: headers))
            return (response.status, String(decoding: bytes, as: UTF8.self))
        }
        #expect(try metrics([]).0 == 401)
        #expect(try metrics([("Cookie", server.cookie)]).0 == 401, "an owner session is not the scraper's token")
        #expect(try metrics([("Authorization", "Bearer not-the-token")]).0 == 401)
        let (scraped, text) = try metrics([("Authorization", "Bearer \(ServerFixture.metricsToken)")])
        #expect(scraped == 200, "\(text)")
        let lines = text.split(separator: "\n").map(String.init)
        for prefix in [
            "walvault_backup_since_last_completion_seconds{cluster=\"main\"} ", "walvault_backup_last_size_bytes{cluster=\"main\"} ",
            "walvault_store_bytes{cluster=\"main\",store=\"store1\"} ", "walvault_archive_lag_segments{cluster=\"main\"} ",
            "walvault_database_size_bytes{cluster=\"main\",database=\"postgres\"} ", "walvault_backup_success_ratio{cluster=\"main\"} 1",
            "walvault_restorable_window_start_timestamp_seconds{cluster=\"main\",store=\"store1\"} "
        ] {
            #expect(lines.contains { $0.hasPrefix(prefix) }, "\(prefix) in \(text)")
        }
        #expect(lines.filter { $0.hasPrefix("walvault_scrape_error") }.allSatisfy { $0.hasSuffix(" 0") }, "\(text)")
        #expect(lines.contains("# TYPE walvault_store_bytes gauge"))
        #expect(!text.contains("MARKER"))

        // The database's figures, and the growth chart's series: the server sampled at its start,
        // and walvault check samples too.
        let stats = try server.call("GET", "/api/database/stats")
        #expect(stats.status == 200, "\(stats.text)")
        #expect((stats.body["bytes"] as? Int ?? 0) > 1_000_000 && (stats.body["tables"] as? Int ?? 0) >= 1, "\(stats.text)")
        #expect(stats.body["database"] as? String == "postgres" && (stats.body["free_bytes"] as? Int ?? 0) > 0)
        #expect((stats.body["series"] as? [[String: Any]])?.isEmpty == false)
        let samples = { try server.cluster.sql("SELECT count(*) FROM control_plane.database_sizes WHERE project_id = 'shop'") }
        let before = Int(try samples()) ?? 0
        #expect(before >= 1)
        let cliCheck = try server.ws.walvault(["check", "--config", server.config], asPostgres: true)
        #expect(cliCheck.stdout.contains("database size: "), "\(cliCheck.stdout)")
        #expect(Int(try samples()) == before + 1)

        // Verify everything, and check: what the CLI's verify and check say, through the API.
        let verify = try server.call("POST", "/api/verify")
        #expect(verify.status == 202, "\(verify.text)")
        #expect(try server.finished(#require(verify.body["job_id"] as? String))["state"] as? String == "succeeded")
        let check = try server.call("GET", "/api/check")
        #expect(check.status == 200, "\(check.text)")
        let checks = check.body["checks"] as? [[String: Any]] ?? []
        #expect(!checks.isEmpty && check.body["ok"] is Bool, "\(check.text)")
        #expect(checks.contains { ($0["name"] as? String)?.isEmpty == false && $0["ok"] is Bool && $0["figure"] is String })

        // The history table, newest first, filtered and paged by the database; the backup's rows name who started it.
        let rows = try server.history("type=database&status=succeeded&operation=backup&limit=5")
        #expect(!rows.isEmpty && rows.allSatisfy { $0["type"] == "database" && $0["operation"] == "backup" && $0["status"] == "succeeded" })
        #expect(rows.allSatisfy { $0["actor"] == "owner" && $0["origin"] == "dashboard from 10.0.0.9" }, "\(rows)")
        let page = try server.call("GET", "/api/history?type=database&limit=5").body
        #expect(page["limit"] as? Int == 5 && page["offset"] as? Int == 0)
        #expect(try server.history("status=failed").isEmpty)
        let all = try server.history("limit=1000")
        let paged = try server.history("limit=1&offset=1")
        #expect(all.count >= 2 && paged.count == 1 && paged.first == all[1], "offset 1 is the second newest")
        for (query, parameter) in [
            ("type=bogus", "type=bogus"), ("limit=0", "limit=0"), ("offset=-1", "offset=-1"), ("since=yesterday", "since=yesterday"),
            ("status=done", "status=done")
        ] {
            let refused = try server.call("GET", "/api/history?\(query)")
            #expect(refused.status == 400 && refused.body["code"] as? String == "input.invalid", "\(query)")
            #expect((refused.body["problem"] as? String)?.hasPrefix(parameter) == true, "\(refused.body)")
        }
        #expect(try server.call("GET", "/api/history", session: false).status == 401)
        #expect(try server.call("POST", "/api/jobs/no-such-job/cancel").status == 404)

        // The login is an audit row with the address; a failed one too, without the password.
        #expect(try server.login(password: "PASSWORD-MARKER-wrong", from: "10.0.0.66").0 == 401)
        var logins: [[String: String]] = []
        // Audit rows are written beside the answer, not before it.
        try poll("the failed login's audit row") {
            logins = try server.history("type=audit&operation=login")
            return logins.count >= 2
        }
        #expect(logins.contains { $0["status"] == "succeeded" && $0["origin"] == "dashboard from 10.0.0.9" }, "\(logins)")
        #expect(logins.contains { $0["status"] == "failed" && $0["origin"] == "dashboard from 10.0.0.66" && $0["error_code"] == "auth.required" })
        let everything = try server.call("GET", "/api/history?limit=1000").text
        #expect(!everything.contains("PASSWORD-MARKER") && !everything.contains(server.secret))
    }

    @Test func aServerKilledMidJobMarksItInterruptedOnceAtItsNextStart() throws {
        let server = try ServerFixture()
        #expect(try server.login().0 == 201)
        // With archiving slowed down the backup cannot finish for a while: it waits for its last WAL segment.
        let slow = "sleep 20 && \(server.ws.walvault) --config \(server.config) archive-push %p"
        try server.cluster.sql("ALTER SYSTEM SET archive_command = '\(slow)'")
        try server.cluster.sql("SELECT pg_reload_conf()")
        try server.cluster.waitForSetting("archive_command", slow)
        let started = try server.call("POST", "/api/backups")
        let id = try #require(started.body["job_id"] as? String, "\(started.text)")
        var seen: [String: Any] = [:]
        do {
            try poll("the backup to be under way", attempts: 1200) {
                seen = try server.call("GET", "/api/jobs/\(id)").body
                return (seen["progress"] as? [String: Any])?["phase"] != nil
            }
        } catch {
            Issue.record("\(seen)")
            throw error
        }
        #expect(try server.call("GET", "/api/jobs/\(id)").body["state"] as? String == "running")
        server.stopServer(signal: SIGKILL)
        try server.cluster.sql("ALTER SYSTEM RESET archive_command")
        try server.cluster.sql("SELECT pg_reload_conf()")

        try server.startServer()
        #expect(fileContains(server.log, "job \(id) (backup, started by owner) was interrupted"))
        #expect(try server.login().0 == 201, "sessions do not outlive the server")
        let job = try server.call("GET", "/api/jobs/\(id)").body
        #expect(job["state"] as? String == "interrupted" && job["error_code"] as? String == "operation.interrupted", "\(job)")
        let rows = try server.history("status=interrupted")
        #expect(rows.count == 1, "\(rows)")
        #expect(rows.first?["type"] == "audit" && rows.first?["operation"] == "backup" && rows.first?["object_name"] == id)
        #expect(rows.first?["actor"] == "owner" && rows.first?["origin"] == "dashboard from 10.0.0.9")
        #expect(try server.labels().isEmpty, "nothing the killed backup wrote is a complete backup")
        #expect(try server.call("GET", "/api/backups").body["incomplete"] as? [Any] != nil)

        // Settled once: the next start writes no second row.
        server.stopServer()
        try server.startServer()
        #expect(try server.login().0 == 201)
        #expect(try server.history("status=interrupted").count == 1)
    }
}
