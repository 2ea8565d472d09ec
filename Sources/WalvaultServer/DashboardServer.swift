import Dispatch
import Hummingbird
import HummingbirdBcrypt
import Logging
import WalvaultCatalog
import WalvaultConfig
import WalvaultHistory
import WalvaultKit
import WalvaultMaintenance
import WalvaultService
import WalvaultSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `walvault serve`: the owner's HTTP API over the same library the CLI uses. Every route but the
/// login goes through `OwnerGuard`; every response carries `SecurityHeaders`.
public struct DashboardServer: Sendable {
    public let context: WalvaultContext
    public let settings: DashboardSettings
    let credentials: OwnerCredentials
    let sessions: SessionStore
    let throttle = LoginThrottle()
    let jobs = ServerJobs()
    let totp: TOTPCheck
    /// Seconds since the epoch; replaced in tests to expire sessions without waiting.
    let clock: @Sendable () -> Int64
    /// bcrypt takes a quarter second by design: it runs here, never on the threads serving requests.
    private static let hashing = DispatchQueue(label: "walvault.password-hashing")

    public init(
        context: WalvaultContext, settings: DashboardSettings, credentials: OwnerCredentials, sessions: SessionStore = SessionStore(),
        clock: @escaping @Sendable () -> Int64 = { WallClock.nowMicros() / 1_000_000 }
    ) {
        self.context = context
        self.settings = settings
        self.credentials = credentials
        self.sessions = sessions
        self.totp = TOTPCheck(secret: credentials.totpSecret)
        self.clock = clock
    }

    public func application(logger: Logger = Logger(label: "walvault-server")) -> some ApplicationProtocol {
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: SecurityHeaders())
        router.add(middleware: OwnerGuard(sessions: sessions, clock: clock))
        router.post("/api/session") { request, context in try await login(request, context) }
        router.get("/api/session") { _, context in
            guard let token = context.sessionToken, let session = sessions.session(token: token, now: clock()) else {
                return APIResponse.refused("auth.required", "no session", fix: "log in")
            }
            return APIResponse.json(SessionBody(subject: session.subject, csrfToken: session.csrfToken))
        }
        router.delete("/api/session") { _, context in
            if let token = context.sessionToken { sessions.close(token: token) }
            var response = Response(status: .noContent)
            response.setCookie(
                Cookie(name: SessionStore.cookieName, value: "", maxAge: 0, path: "/", secure: true, httpOnly: true, sameSite: .strict))
            return response
        }
        router.get("/api/jobs") { _, _ in APIResponse.json(JobsBody(jobs: context.jobs)) }
        router.get("/api/jobs/:id") { _, requestContext in
            let id = requestContext.parameters.get("id") ?? ""
            guard let job = context.jobs.first(where: { $0.id == id }) else {
                return APIResponse.refused("store.not_found", "no job \(id) in this cluster's spool", fix: "GET /api/jobs lists them")
            }
            return APIResponse.json(job)
        }
        router.get("/api/history") { request, _ in
            let filter: HistoryQuery.Filter
            switch Self.historyFilter(request.uri.queryParameters) {
            case .success(let parsed): filter = parsed
            case .failure(let refusal): return APIResponse.problem(refusal)
            }
            let path = context.config.path
            do {
                let rows = try await Self.offRequestThreads { try ControlPlane(configPath: path).rows(filter) }
                return APIResponse.json(HistoryPage(rows: rows, limit: filter.limit ?? 0, offset: filter.offset))
            } catch {
                return APIResponse.problem(error)
            }
        }
        router.post("/api/backups") { request, requestContext in
            let id = await jobs.start(BackupOperation(), context: context, actor: actor(request, requestContext))
            return APIResponse.json(JobStarted(jobId: id), status: .accepted)
        }
        router.post("/api/jobs/:id/cancel") { _, requestContext in
            let id = requestContext.parameters.get("id") ?? ""
            guard jobs.cancel(id) else {
                return APIResponse.refused(
                    "store.not_found", "this server runs no job \(id)", fix: "GET /api/jobs lists the jobs; a finished one cannot be cancelled")
            }
            return APIResponse.json(JobStarted(jobId: id), status: .accepted)
        }
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port), serverName: "walvault"),
            logger: logger)
    }

    struct Credentials: Decodable {
        let password: String
        let totp: String
    }

    struct SessionBody: Encodable {
        let subject: String
        let csrfToken: String
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
            guard HistoryRecord.Kind(rawValue: type) != nil else { return refuse("type", type, "use wal, database, storage or logs") }
            filter.type = type
        }
        if let status = query.get("status") {
            guard ["succeeded", "failed"].contains(status) else { return refuse("status", status, "use succeeded or failed") }
            filter.status = status
        }
        filter.operation = query.get("operation")
        filter.store = query.get("store")
        if let since = query.get("since") {
            guard let micros = RecoveryTarget.parseTime(since) else { return refuse("since", since, "use 'YYYY-MM-DD HH:MM:SS+00'") }
            filter.since = RecoveryTarget.formatUTC(micros)
        }
        if let limit = query.get("limit") {
            guard let value = Int(limit), (1...1000).contains(value) else { return refuse("limit", limit, "use 1 to 1000") }
            filter.limit = value
        }
        if let offset = query.get("offset") {
            guard let value = Int(offset), value >= 0 else { return refuse("offset", offset, "use 0 or more") }
            filter.offset = value
        }
        return .success(filter)
    }

    /// Blocking work (a database round trip) on a thread of its own, never on the request threads.
    static func offRequestThreads<T: Sendable>(
        on queue: DispatchQueue = .global(qos: .userInitiated), _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    struct JobStarted: Encodable {
        let jobId: String
    }

    /// Who started a job, for its status file and history rows: the session's owner, from where.
    func actor(_ request: Request, _ context: ServerRequestContext) -> HistoryActor {
        HistoryActor(
            name: context.subject ?? "owner", origin: "dashboard from \(context.clientAddress(request, trustedProxy: settings.trustedProxy))")
    }

    struct JobsBody: Encodable {
        let jobs: [JobStatus]
    }

    private func login(_ request: Request, _ context: ServerRequestContext) async throws -> Response {
        let address = context.clientAddress(request, trustedProxy: settings.trustedProxy)
        let wait = throttle.wait(for: address, now: clock())
        guard wait == 0 else {
            var response = APIResponse.refused(
                "auth.throttled", "too many failed logins from \(address)", fix: "wait \(wait) s before the next attempt")
            response.headers[.retryAfter] = String(wait)
            return response
        }
        let body = try await request.body.collect(upTo: 16 * 1024)
        guard let typed = try? JSONDecoder().decode(Credentials.self, from: Data(buffer: body)) else {
            return APIResponse.refused(
                "input.invalid", "the login is not a JSON object with \"password\" and \"totp\"",
                fix: "send {\"password\": \"…\", \"totp\": \"123456\"}")
        }
        let hash = credentials.passwordHash
        let passwordMatches = try await Self.offRequestThreads(on: Self.hashing) { Bcrypt.verify(typed.password, hash: hash) }
        // The code is checked only after the password, so a wrong password never uses up a code.
        let verdict = passwordMatches ? totp.check(typed.totp, atSecond: clock()) : .wrong
        guard case .accepted = verdict else {
            throttle.failed(address, now: clock())
            return APIResponse.refused(
                "auth.required", verdict == .replayed ? "that TOTP code was already used" : "the password or the TOTP code is wrong",
                fix: verdict == .replayed ? "wait for the next code" : "check both; each failure doubles the wait before the next attempt")
        }
        throttle.succeeded(address)
        let (token, session) = sessions.open(subject: "owner", now: clock())
        var response = APIResponse.json(SessionBody(subject: session.subject, csrfToken: session.csrfToken), status: .created)
        response.setCookie(
            Cookie(
                name: SessionStore.cookieName, value: token, maxAge: Int(sessions.absoluteSeconds), path: "/",
                secure: isHTTPS(request), httpOnly: true, sameSite: .strict))
        return response
    }

    /// Whether the browser reached us over https: our own TLS, or a trusted proxy that says so.
    func isHTTPS(_ request: Request) -> Bool {
        if settings.usesTLS { return true }
        guard settings.trustedProxy, let proto = request.headers[.init("X-Forwarded-Proto")!] else { return false }
        return proto.lowercased() == "https"
    }
}
