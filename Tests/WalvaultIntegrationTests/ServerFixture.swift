import Foundation
import WalvaultHTTP
import WalvaultServer
import WalvaultTesting

/// `walvault serve` as the owner runs it, over a real PostgreSQL 15 that archives into a local
/// store, with `[history]` migrated and the owner's password and TOTP secret enrolled. The server
/// runs as postgres in its own process (`walvault serve` execs walvault-server); the test talks to
/// it over HTTP with libcurl, from the address it names in X-Forwarded-For (`trusted_proxy`).
final class ServerFixture {
    static let password = "PASSWORD-MARKER-owner-of-the-shop"
    static let metricsToken = "METRICS-MARKER-0123456789abcdef0123456789abcdef"
    let ws: Workspace
    let cluster: PostgresCluster
    let config: String
    let store: String
    let port = Fixture.freePort()
    let totp: TOTPCheck
    let secret: String
    let http = try! HTTPClient()
    let log: String
    private(set) var pid: pid_t = 0
    /// The login's cookie and CSRF token, once `login` succeeded.
    private(set) var cookie = ""
    private(set) var csrf = ""

    /// - Parameters:
    ///   - extra: more config text (a `[retention]` section).
    ///   - moreStores: `[[stores]]` entries after store1, the sync local store.
    init(extra: String = "", moreStores: String = "") throws {
        ws = try Workspace()
        store = try ws.mkdir("store")
        let spool = try ws.mkdir("spool")
        let pgdata = ws.file("pgdata")
        var dashboard =
            "[dashboard]\nlisten = \"127.0.0.1:\(port)\"\ntrusted_proxy = true\nowner_password_file = \"\(ws.file("etc/owner.hash"))\"\n"
            + "totp_secret_file = \"\(ws.file("etc/owner.totp"))\"\nmetrics_token_file = \"\(ws.file("etc/metrics.token"))\"\n"
        _ = try ws.write("etc/metrics.token", Self.metricsToken + "\n")
        dashboard += "jwt_public_key_file = \"\(try ws.write("etc/app-jwt.pem", TestKeys.rsaPublic))\"\n"
        chmod(ws.file("etc/metrics.token"), 0o600)
        config = try ws.config(
            stores: [store],
            extra: "pgdata = \"\(pgdata)\"\nconninfo = \"host=\(ws.path) port=PORT user=postgres dbname=postgres\"\nspool = \"\(spool)\"\n"
                + dashboard
                + "[history]\nconninfo = \"host=\(ws.path) port=PORT user=postgres dbname=postgres\"\nproject_id = \"shop\"\n"
                + "journal = \"\(ws.file("journal/history.jsonl"))\"\n" + extra,
            storeSections: "[[stores]]\nname = \"store1\"\ntype = \"local\"\npath = \"\(store)\"\n" + moreStores)
        cluster = PostgresCluster(workspace: ws)
        try cluster.initdb(settings: [
            "wal_level": "replica", "archive_mode": "on", "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
        ])
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "PORT", with: "\(cluster.port)")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let twice = try ws.write("twice", "\(Self.password)\n\(Self.password)\n")
        try ws.giveToPostgres()
        let set = try ws.walvault(["owner", "set-password", "--config", config], asPostgres: true, stdin: twice)
        guard set.status == 0 else { throw TestFailure("set-password: \(set.stderr)") }
        let enroll = try ws.walvault(["owner", "enroll-2fa", "--config", config], asPostgres: true)
        guard enroll.status == 0 else { throw TestFailure("enroll-2fa: \(enroll.stderr)") }
        secret = try String(contentsOfFile: ws.file("etc/owner.totp"), encoding: .utf8).split(separator: "\n")[0].description
        totp = TOTPCheck(secret: secret)
        log = ws.file("serve.log")
        try cluster.start()
        let migrate = try ws.walvault(["migrate", "--config", config], asPostgres: true)
        guard migrate.status == 0 else { throw TestFailure("migrate: \(migrate.stderr)") }
        try startServer()
    }

    deinit {
        stopServer()
        try? cluster.stop()
    }

    /// Through setpriv, which execs (runuser forks and waits): the pid is the server's own, so
    /// SIGKILL reaches it.
    func startServer() throws {
        let serve = [ws.walvault, "serve", "--config", config]
        pid =
            getuid() == 0
            ? try spawn("/usr/bin/setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--"] + serve, stdout: log, stderr: log)
            : try spawn(ws.walvault, Array(serve.dropFirst()), stdout: log, stderr: log)
        try poll("walvault serve listening on \(port)") { (try? self.call("GET", "/api/jobs", session: false)) != nil }
    }

    func stopServer(signal: Int32 = SIGTERM) {
        guard pid > 0 else { return }
        kill(pid, signal)
        _ = waitFor(pid)
        pid = 0
    }

    private var lastStep = Int64.min
    /// The last code `freshCode` gave: a replay.
    private(set) var lastCode = ""

    /// A code the server has not seen: the server accepts its own step and one either side, and
    /// never a step at or before one it accepted, so each call takes the next unused step (now or
    /// the next), waiting for the clock when both are spent.
    func freshCode() -> String {
        while true {
            let now = Int64(Date().timeIntervalSince1970) / 30
            let step = max(lastStep + 1, now)
            if step <= now + 1 {
                lastStep = step
                lastCode = totp.code(atSecond: step * 30)
                return lastCode
            }
            usleep(500_000)
        }
    }

    @discardableResult
    func login(password: String = ServerFixture.password, from address: String = "10.0.0.9") throws -> (Int, [String: Any]) {
        let (response, bytes) = try http.perform(
            HTTPRequest(
                method: "POST", url: "http://127.0.0.1:\(port)/api/session",
                headers: [("Content-Type", "application/json"), ("X-Forwarded-For", address)],
                body: .bytes(Array("{\"password\": \"\(password)\", \"totp\": \"\(freshCode())\"}".utf8))))
        let body = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
        if response.status == 201 {
            cookie = response.header("Set-Cookie")?.split(separator: ";").first.map(String.init) ?? ""
            csrf = body["csrf_token"] as? String ?? ""
        }
        return (response.status, body)
    }

    /// One request; with `session`, the login's cookie, and the CSRF token unless `csrf` is false.
    @discardableResult
    func call(
        _ method: String, _ path: String, body: String? = nil, session: Bool = true, csrf sendCSRF: Bool = true,
        from address: String = "10.0.0.9"
    ) throws -> (status: Int, body: [String: Any], text: String) {
        var headers = [("X-Forwarded-For", address)]
        if session { headers.append(("Cookie", cookie)) }
        if session && sendCSRF { headers.append(("X-CSRF-Token", csrf)) }
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let (response, bytes) = try http.perform(
            HTTPRequest(
                method: method, url: "http://127.0.0.1:\(port)\(path)", headers: headers, body: body.map { .bytes(Array($0.utf8)) } ?? .none))
        let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
        return (response.status, object, String(decoding: bytes, as: UTF8.self))
    }

    /// Polls the job until it is no longer running; returns its last status.
    func finished(_ id: String, attempts: Int = 2400) throws -> [String: Any] {
        var job: [String: Any] = [:]
        try poll("job \(id) to finish", attempts: attempts) {
            job = try call("GET", "/api/jobs/\(id)").body
            return ["succeeded", "failed", "cancelled", "interrupted"].contains(job["state"] as? String ?? "")
        }
        return job
    }

    /// Starts a backup through the API and waits for it; returns the new backup's label.
    func backupNow(type: String? = nil) throws -> String {
        let before = Set(try labels())
        let started = try call("POST", "/api/backups" + (type.map { "?type=\($0)" } ?? ""))
        guard started.status == 202, let id = started.body["job_id"] as? String else { throw TestFailure("POST /api/backups: \(started.text)") }
        let job = try finished(id)
        guard job["state"] as? String == "succeeded" else { throw TestFailure("backup job: \(job)") }
        guard let label = try labels().first(where: { !before.contains($0) }) else { throw TestFailure("no new backup in GET /api/backups") }
        return label
    }

    /// Labels of the complete backups, newest first.
    func labels() throws -> [String] {
        let page = try call("GET", "/api/backups")
        return (page.body["backups"] as? [[String: Any]] ?? []).compactMap { $0["label"] as? String }
    }

    /// History rows through the API, newest first.
    func history(_ query: String) throws -> [[String: String]] {
        try call("GET", "/api/history?\(query)").body["rows"] as? [[String: String]] ?? []
    }
}
