import Foundation
import Testing
import WalvaultHTTP
import WalvaultServer

/// A backup started from the API against a real PostgreSQL 15: it runs in the server's process
/// through the runner, its status file names the owner and the address, and the CLI sees it.
@Suite(.serialized) struct ServerJobTests {
    @Test func backupNowRunsAsAJobTheCLISeesAndCancelNamesOnlyRunningJobs() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let spool = try ws.mkdir("spool")
        let pgdata = ws.file("pgdata")
        let port = Fixture.freePort()
        let dashboard =
            "[dashboard]\nlisten = \"127.0.0.1:\(port)\"\ntrusted_proxy = true\nowner_password_file = \"\(ws.file("etc/owner.hash"))\"\n"
            + "totp_secret_file = \"\(ws.file("etc/owner.totp"))\"\n"
        let config = try ws.config(
            stores: [store],
            extra: "pgdata = \"\(pgdata)\"\nconninfo = \"host=\(ws.path) port=PORT user=postgres dbname=postgres\"\nspool = \"\(spool)\"\n"
                + dashboard
                + "[history]\nconninfo = \"host=\(ws.path) port=PORT user=postgres dbname=postgres\"\nproject_id = \"shop\"\n"
                + "journal = \"\(ws.file("journal/history.jsonl"))\"\n")
        let cluster = PostgresCluster(workspace: ws)
        try cluster.initdb(settings: [
            "wal_level": "replica", "archive_mode": "on", "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
        ])
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "PORT", with: "\(cluster.port)")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let password = "PASSWORD-MARKER-backup-now"
        let twice = try ws.write("twice", "\(password)\n\(password)\n")
        try ws.giveToPostgres()
        #expect(try ws.walvault(["owner", "set-password", "--config", config], asPostgres: true, stdin: twice).status == 0)
        #expect(try ws.walvault(["owner", "enroll-2fa", "--config", config], asPostgres: true).status == 0)
        let totp = TOTPCheck(secret: try String(contentsOfFile: ws.file("etc/owner.totp"), encoding: .utf8).split(separator: "\n")[0].description)
        try cluster.start()
        defer { try? cluster.stop() }
        try cluster.sql("CREATE TABLE t AS SELECT g FROM generate_series(1, 10000) g")
        let migrate = try ws.walvault(["migrate", "--config", config], asPostgres: true)
        #expect(migrate.status == 0, "\(migrate.stderr)")

        let log = ws.file("serve.log")
        let server = try spawn(ws.walvault, ["serve", "--config", config], asPostgres: true, stdout: log, stderr: log)
        defer {
            kill(server, SIGTERM)
            _ = waitFor(server)
        }
        let http = try HTTPClient()
        func call(_ method: String, _ path: String, _ headers: [(String, String)] = [], body: String? = nil) throws -> (Int, [String: Any]) {
            let (response, bytes) = try http.perform(
                HTTPRequest(
                    method: method, url: "http://127.0.0.1:\(port)\(path)", headers: [("X-Forwarded-For", "10.0.0.9")] + headers,
                    body: body.map { .bytes(Array($0.utf8)) } ?? .none))
            return (response.status, (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:])
        }
        try poll("walvault serve listening") { (try? call("GET", "/api/jobs")) != nil }

        let (response, bytes) = try http.perform(
            HTTPRequest(
                method: "POST", url: "http://127.0.0.1:\(port)/api/session", headers: [("Content-Type", "application/json")],
                body: .bytes(Array("{\"password\": \"\(password)\", \"totp\": \"\(totp.code(atSecond: Int64(Date().timeIntervalSince1970)))\"}".utf8))
            ))
        #expect(response.status == 201, "\(String(decoding: bytes, as: UTF8.self))")
        let cookie = try #require(response.header("Set-Cookie")?.split(separator: ";").first.map(String.init))
        let csrf = try #require(((try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any])?["csrf_token"] as? String)
        let session = [("Cookie", cookie), ("X-CSRF-Token", csrf)]

        #expect(try call("POST", "/api/backups", [("Cookie", cookie)]).0 == 403, "no CSRF token, no backup")
        let (status, started) = try call("POST", "/api/backups", session)
        #expect(status == 202)
        let id = try #require(started["job_id"] as? String)
        var job: [String: Any] = [:]
        try poll("the backup job to finish", attempts: 2400) {
            job = try call("GET", "/api/jobs/\(id)", [("Cookie", cookie)]).1
            return ["succeeded", "failed", "cancelled", "interrupted"].contains(job["state"] as? String ?? "")
        }
        #expect(job["state"] as? String == "succeeded", "\(job)")
        #expect(job["actor"] as? String == "owner")
        #expect(job["origin"] as? String == "dashboard from 10.0.0.9")
        #expect(job["operation"] as? String == "backup")

        // The CLI sees the job and the backup, as it sees the ones cron starts.
        let status2 = try ws.walvault(["status", "--config", config], asPostgres: true)
        #expect(status2.stdout.contains(id), "\(status2.stdout)")
        let info = try ws.walvault(["info", "--json", "--config", config], asPostgres: true)
        let report = (try? JSONSerialization.jsonObject(with: Data(info.stdout.utf8))) as? [String: Any]
        #expect((report?["backups"] as? [Any])?.count == 1, "\(info.stdout) \(info.stderr)")
        #expect(try call("POST", "/api/jobs/\(id)/cancel", session).0 == 404, "a finished job cannot be cancelled")

        // The history table, newest first, filtered and paged by the database; the backup's rows name who started it.
        let (historyStatus, history) = try call("GET", "/api/history?type=database&status=succeeded&operation=backup&limit=5", [("Cookie", cookie)])
        #expect(historyStatus == 200, "\(history)")
        let rows = history["rows"] as? [[String: String]] ?? []
        #expect(!rows.isEmpty && rows.allSatisfy { $0["type"] == "database" && $0["operation"] == "backup" && $0["status"] == "succeeded" })
        #expect(history["limit"] as? Int == 5 && history["offset"] as? Int == 0)
        let failed = try call("GET", "/api/history?status=failed", [("Cookie", cookie)])
        #expect(failed.0 == 200 && (failed.1["rows"] as? [Any])?.isEmpty == true, "\(failed.1)")
        let all = try call("GET", "/api/history?limit=1000", [("Cookie", cookie)]).1["rows"] as? [[String: String]] ?? []
        let paged = try call("GET", "/api/history?limit=1&offset=1", [("Cookie", cookie)]).1["rows"] as? [[String: String]] ?? []
        #expect(all.count >= 2 && paged.count == 1 && paged.first == all[1], "offset 1 is the second newest")
        for (query, parameter) in [
            ("type=bogus", "type=bogus"), ("limit=0", "limit=0"), ("offset=-1", "offset=-1"), ("since=yesterday", "since=yesterday")
        ] {
            let (refused, body) = try call("GET", "/api/history?\(query)", [("Cookie", cookie)])
            #expect(refused == 400 && body["code"] as? String == "input.invalid", "\(query)")
            #expect((body["problem"] as? String)?.hasPrefix(parameter) == true, "\(body)")
        }
        #expect(try call("GET", "/api/history").0 == 401)
        #expect(try call("POST", "/api/jobs/no-such-job/cancel", session).0 == 404)
    }
}
