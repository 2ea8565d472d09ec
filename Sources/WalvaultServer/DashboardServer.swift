import Dispatch
import Hummingbird
import HummingbirdTLS
import Logging
import WalvaultConfig
import WalvaultKit
import WalvaultService
import WalvaultSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `walvault serve`: the owner's HTTP API over the same library the CLI uses. Every route but the
/// login goes through `OwnerGuard`; every response carries `SecurityHeaders`. The routes are in
/// one file per area (`SessionRoutes`, `JobRoutes`, `BackupRoutes`…).
public struct DashboardServer: Sendable {
    public let context: WalvaultContext
    public let settings: DashboardSettings
    let credentials: OwnerCredentials
    let sessions: SessionStore
    /// The host application's JWTs, with `jwt_public_key_file`.
    let hostTokens: HostApplicationTokens?
    /// The bearer token of `GET /metrics`, with `metrics_token_file`.
    let metricsToken: String?
    /// Tokens for automation, made in the dashboard.
    let apiTokens: APITokens
    let metricsCache = MetricsCache()
    let pages = Pages()
    let downloads = DownloadLinks()
    let throttle = LoginThrottle()
    let jobs = ServerJobs()
    let totp: TOTPCheck
    /// Seconds since the epoch; replaced in tests to expire sessions without waiting.
    let clock: @Sendable () -> Int64
    /// bcrypt takes a quarter second by design: it runs here, never on the threads serving requests.
    static let hashing = DispatchQueue(label: "walvault.password-hashing")

    public init(
        context: WalvaultContext, settings: DashboardSettings, credentials: OwnerCredentials, sessions: SessionStore = SessionStore(),
        hostTokens: HostApplicationTokens? = nil, metricsToken: String? = nil,
        apiTokens: APITokens? = nil,
        clock: @escaping @Sendable () -> Int64 = { WallClock.nowMicros() / 1_000_000 }
    ) {
        self.context = context
        self.settings = settings
        self.credentials = credentials
        self.sessions = sessions
        self.hostTokens = hostTokens
        self.metricsToken = metricsToken
        self.apiTokens = apiTokens ?? APITokens(path: Paths.join(Paths.dirname(settings.ownerPasswordFile), "api-tokens.json"), records: [])
        self.totp = TOTPCheck(secret: credentials.totpSecret)
        self.clock = clock
    }

    /// - Parameter tls: from `DashboardTLS.configuration`, with `tls_certificate_file`; nil serves
    ///   plain HTTP (loopback, or behind a proxy that terminates TLS).
    public func application(tls: TLSConfiguration? = nil, logger: Logger = Logger(label: "walvault-server")) throws -> some ApplicationProtocol {
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: SecurityHeaders())
        router.add(middleware: OwnerGuard(sessions: sessions, hostTokens: hostTokens, apiTokens: self.apiTokens, clock: clock))
        router.add(middleware: DescribedRoutes())
        addSessionRoutes(to: router)
        addJobRoutes(to: router)
        addHistoryRoutes(to: router)
        addBackupRoutes(to: router)
        addRestoreRoutes(to: router)
        addCheckRoutes(to: router)
        addDatabaseRoutes(to: router)
        addMetricsRoutes(to: router)
        addExportRoutes(to: router)
        addTokenRoutes(to: router)
        addDrillRoutes(to: router)
        addShipRoutes(to: router)
        addPageRoutes(to: router)
        addDocsRoutes(to: router)
        return Application(
            router: router, server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
            configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port), serverName: "walvault"),
            logger: logger)
    }

    var destructive: DestructiveConfirmation { DestructiveConfirmation(totp: totp, sessions: sessions) }

    /// Blocking work (a database round trip, reading the stores) on a thread of its own, never on
    /// the request threads.
    static func offRequestThreads<T: Sendable>(
        on queue: DispatchQueue = .global(qos: .userInitiated), _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// A JSON request body as `T` (snake_case keys), or one 400 saying what was expected. An
    /// empty body reads as `{}`, for actions whose fields are all optional.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, example: String) async -> Result<T, CommandError> {
        let refusal = CommandError(
            problem: "\(request.method) \(request.uri.path): the body is not the JSON object expected", fix: "send \(example)",
            errorCode: "input.invalid")
        guard let buffer = try? await request.body.collect(upTo: 64 * 1024) else { return .failure(refusal) }
        let bytes = buffer.readableBytes == 0 ? Data("{}".utf8) : Data(buffer: buffer)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let value = try? decoder.decode(T.self, from: bytes) else { return .failure(refusal) }
        return .success(value)
    }

    /// Who started a job, for its status file and history rows: the session's owner, from where.
    func actor(_ request: Request, _ context: ServerRequestContext) -> HistoryActor {
        HistoryActor(
            name: context.subject ?? "owner", origin: "dashboard from \(context.clientAddress(request, trustedProxy: settings.trustedProxy))")
    }

    /// Starts a job, answering 202 with its id, or 409 when it must not overlap a running one.
    func startJob<Operation: WalvaultOperation>(
        _ operation: Operation, _ request: Request, _ requestContext: ServerRequestContext, subject: String? = nil
    ) async -> Response {
        switch await jobs.start(operation, context: context, actor: actor(request, requestContext), subject: subject) {
        case .success(let id): return APIResponse.json(JobStarted(jobId: id), status: .accepted)
        case .failure(let refusal): return APIResponse.problem(refusal)
        }
    }

    struct JobStarted: Encodable {
        let jobId: String
    }

    /// An audit row for an action that is no job (a login, a cancel), off the request threads.
    func audit(_ operation: String, subject: String? = nil, failed: CommandError? = nil, actor: HistoryActor) {
        let context = self.context
        DispatchQueue.global(qos: .utility).async {
            ServerJobs.audit(
                context: context, operation: operation, subject: subject, status: failed == nil ? .succeeded : .failed,
                error: failed.map { JobFailure($0) }, actor: actor)
        }
    }
}
