import Foundation
import Testing
import WalvaultHTTP
import WalvaultKit
import WalvaultServer
import WalvaultSystem
import WalvaultTesting

/// `walvault serve` as the owner runs it: the CLI execs walvault-server, which listens on a
/// loopback port in its own process, and the test talks to it over HTTP with libcurl. (In this
/// test process, blocking tests beside it could starve an in-process server's async handlers.)
/// The clock-bound rules (session expiry, the doubling wait) are `ServerAuthTests`'; here each
/// scenario comes from its own address, through `trusted_proxy` and X-Forwarded-For.
@Suite(.serialized) struct DashboardServerTests {
    static let password = "PASSWORD-MARKER-correct horse"

    final class Server {
        let ws: Workspace
        let port = Fixture.freePort()
        let pid: pid_t
        let totp: TOTPCheck
        let secret: String
        let http = try! HTTPClient()
        let log: String

        /// - Parameter jwtKey: a public key PEM for `jwt_public_key_file`.
        init(jwtKey: String? = nil) throws {
            ws = try Workspace()
            let spool = try ws.mkdir("spool")
            var dashboard: String =
                "[dashboard]\nlisten = \"127.0.0.1:\(port)\"\ntrusted_proxy = true\nowner_password_file = \"\(ws.file("etc/owner.hash"))\"\n"
                + "totp_secret_file = \"\(ws.file("etc/owner.totp"))\"\n"
            if let jwtKey { dashboard += "jwt_public_key_file = \"\(try ws.write("app-jwt.pem", jwtKey))\"\n" }
            let config = try ws.config(stores: [try ws.mkdir("store")], extra: "spool = \"\(spool)\"\n" + dashboard)
            let twice = try ws.write("twice", "\(DashboardServerTests.password)\n\(DashboardServerTests.password)\n")
            let set = try ws.walvault(["owner", "set-password", "--config", config], stdin: twice)
            guard set.status == 0 else { throw TestFailure("set-password: \(set.stderr)") }
            let enroll = try ws.walvault(["owner", "enroll-2fa", "--config", config])
            guard enroll.status == 0 else { throw TestFailure("enroll-2fa: \(enroll.stderr)") }
            secret = try String(contentsOfFile: ws.file("etc/owner.totp"), encoding: .utf8).split(separator: "\n")[0].description
            totp = TOTPCheck(secret: secret)
            var job = JobStatus(
                id: "20261204T000000Z-1-1", operation: .backup, cluster: "main", pid: 1, processStart: nil, startedAt: 1, actor: "cron",
                origin: "cli")
            job.state = .succeeded
            try JobStatusDirectory(spool: ws.file("spool")).write(job)
            log = ws.file("serve.log")
            pid = try spawn(ws.walvault, ["serve", "--config", config], stdout: log, stderr: log)
            try poll("walvault serve listening on \(port)") {
                (try? self.http.perform(WalvaultHTTP.HTTPRequest(method: "GET", url: "http://127.0.0.1:\(self.port)/api/jobs"))) != nil
            }
        }

        deinit {
            kill(pid, SIGTERM)
            _ = waitFor(pid)
        }

        func request(
            _ method: String, _ path: String, from address: String = "10.0.0.1", headers: [(String, String)] = [], body: String? = nil
        ) throws -> (status: Int, headers: WalvaultHTTP.HTTPResponse, body: [String: Any], text: String) {
            let request = WalvaultHTTP.HTTPRequest(
                method: method, url: "http://127.0.0.1:\(port)\(path)", headers: [("X-Forwarded-For", address)] + headers,
                body: body.map { .bytes(Array($0.utf8)) } ?? .none)
            let (response, bytes) = try http.perform(request)
            let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
            return (response.status, response, object, String(decoding: bytes, as: UTF8.self))
        }

        func login(
            from address: String = "10.0.0.1", password: String = DashboardServerTests.password, code: String? = nil,
            headers: [(String, String)] = []
        ) throws -> (status: Int, headers: WalvaultHTTP.HTTPResponse, body: [String: Any], text: String) {
            let now = Int64(Date().timeIntervalSince1970)
            let typed = code ?? totp.code(atSecond: now)
            return try request(
                "POST", "/api/session", from: address, headers: [("Content-Type", "application/json")] + headers,
                body: "{\"password\": \"\(password)\", \"totp\": \"\(typed)\"}")
        }
    }

    static func cookie(_ response: WalvaultHTTP.HTTPResponse) -> String? {
        response.header("Set-Cookie")?.split(separator: ";").first.map(String.init)
    }

    @Test func theOwnerAloneGetsInAndTheSessionNeedsItsCSRFTokenToChangeAnything() throws {
        let server = try Server()
        // Without a login every path is refused, with the security headers on the refusal too.
        for (method, path) in [
            ("GET", "/api/jobs"), ("GET", "/api/jobs/x"), ("GET", "/api/session"), ("DELETE", "/api/session"), ("GET", "/api/backups"),
            ("POST", "/api/backups"), ("POST", "/api/restore")
        ] {
            let refused = try server.request(method, path)
            #expect(refused.status == 401, "\(method) \(path)")
            #expect(refused.body["code"] as? String == "auth.required", "\(method) \(path)")
            let policy = refused.headers.header("Content-Security-Policy") ?? ""
            #expect(policy.contains("frame-ancestors 'none'") && !policy.contains("unsafe-inline"))
            #expect(refused.headers.header("X-Content-Type-Options") == "nosniff")
        }
        #expect(try server.request("GET", "/api/jobs", headers: [("Cookie", "walvault_session=forged")]).status == 401)
        // Pages send a stranger to the login page, which (with its script and style sheet) is open.
        for page in ["/", "/backups", "/restore", "/jobs/x", "/backups/20261204T000000Z", "/exports", "/docs", "/docs/restore"] {
            let redirected = try server.request("GET", page)
            #expect(redirected.status == 303 && redirected.headers.header("Location") == "/login", "\(page)")
        }
        for open in ["/login", "/static/app.js", "/static/app.css", "/static/favicon.svg"] {
            #expect(try server.request("GET", open).status == 200, "\(open)")
        }
        #expect(try server.request("GET", "/static/other.js").status == 404)
        let metricsOff = try server.request("GET", "/metrics")
        #expect(metricsOff.status == 404 && (metricsOff.body["fix"] as? String)?.contains("metrics_token_file") == true, "\(metricsOff.text)")

        let login = try server.login()
        #expect(login.status == 201, "\(login.text)")
        let setCookie = try #require(login.headers.header("Set-Cookie"))
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
        #expect(!setCookie.contains("Secure"), "plain http: a Secure cookie would never come back")
        let cookie = try #require(Self.cookie(login.headers))
        let csrf = try #require(login.body["csrf_token"] as? String)

        let jobs = try server.request("GET", "/api/jobs", headers: [("Cookie", cookie)])
        #expect(jobs.status == 200)
        #expect((jobs.body["jobs"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["20261204T000000Z-1-1"])
        #expect(try server.request("GET", "/api/jobs/20261204T000000Z-1-1", headers: [("Cookie", cookie)]).body["operation"] as? String == "backup")
        #expect(try server.request("GET", "/api/jobs/nope", headers: [("Cookie", cookie)]).status == 404)

        // Without [history] the history is one refusal, not an empty table.
        let noHistory = try server.request("GET", "/api/history", headers: [("Cookie", cookie)])
        #expect(noHistory.status == 409 && (noHistory.body["problem"] as? String)?.hasSuffix("has no [history] section") == true, "\(noHistory.text)")

        let noToken = try server.request("DELETE", "/api/session", headers: [("Cookie", cookie)])
        #expect(noToken.status == 403 && noToken.body["code"] as? String == "auth.forbidden")
        #expect(try server.request("DELETE", "/api/session", headers: [("Cookie", cookie), ("X-CSRF-Token", String(csrf.reversed()))]).status == 403)
        #expect(try server.request("DELETE", "/api/session", headers: [("Cookie", cookie), ("X-CSRF-Token", csrf)]).status == 204)
        #expect(try server.request("GET", "/api/jobs", headers: [("Cookie", cookie)]).status == 401)
    }

    @Test func wrongCredentialsAreThrottledAUsedCodeNeverWorksTwiceAndNothingLeaksASecret() throws {
        let server = try Server()
        let wrongPassword = try server.login(from: "10.0.0.2", password: "guess")
        #expect(wrongPassword.status == 401)
        let soon = try server.login(from: "10.0.0.2")
        #expect(soon.status == 429 && soon.headers.header("Retry-After") == "1")
        #expect(soon.body["code"] as? String == "auth.throttled")
        let staleCode = server.totp.code(atSecond: Int64(Date().timeIntervalSince1970) - 120)
        let wrongCode = try server.login(from: "10.0.0.3", code: staleCode)
        #expect(wrongCode.status == 401)

        let code = server.totp.code(atSecond: Int64(Date().timeIntervalSince1970))
        let first = try server.login(from: "10.0.0.4", code: code)
        #expect(first.status == 201, "\(first.text)")
        let replay = try server.login(from: "10.0.0.5", code: code)
        #expect(replay.status == 401 && (replay.body["problem"] as? String)?.contains("already used") == true)
        let garbage = try server.request("POST", "/api/session", from: "10.0.0.6", body: "password=x")
        #expect(garbage.status == 400 && garbage.body["code"] as? String == "input.invalid")
        // Behind a proxy that says https, the cookie is Secure.
        let viaProxy = try server.login(
            from: "10.0.0.7", code: server.totp.code(atSecond: Int64(Date().timeIntervalSince1970) + 30), headers: [("X-Forwarded-Proto", "https")])
        #expect(viaProxy.status == 201, "\(viaProxy.text)")
        #expect(viaProxy.headers.header("Set-Cookie")?.contains("Secure") == true)

        for response in [wrongPassword, soon, wrongCode, first, replay, garbage, viaProxy] {
            let text = response.text + "\(response.headers.headers)"
            #expect(!text.contains("PASSWORD-MARKER") && !text.contains(server.secret) && !text.contains("$2b$"))
        }
        let log = (try? String(contentsOfFile: server.log, encoding: .utf8)) ?? ""
        #expect(!log.contains("PASSWORD-MARKER") && !log.contains(server.secret))
    }

    /// Every route of the API, with a body where it takes one.
    static let endpoints: [(method: String, path: String)] = [
        ("GET", "/api/session"), ("DELETE", "/api/session"), ("GET", "/api/jobs"), ("GET", "/api/jobs/20261204T000000Z-1-1"),
        ("POST", "/api/jobs/20261204T000000Z-1-1/cancel"), ("GET", "/api/history"), ("GET", "/api/backups"), ("POST", "/api/backups"),
        ("GET", "/api/backups/20261204T000000Z"), ("POST", "/api/backups/20261204T000000Z/verify"), ("POST", "/api/verify"),
        ("DELETE", "/api/backups/20261204T000000Z"), ("POST", "/api/restore"), ("GET", "/api/check"), ("GET", "/api/database/stats")
    ]

    @Test func everyEndpointRefusesNoCredentialsOtherRolesForgedTokensAndAMissingCSRFToken() async throws {
        let server = try Server(jwtKey: TestKeys.rsaPublic)
        let login = try server.login()
        let cookie = try #require(Self.cookie(login.headers))
        var roleTokens: [(String, String)] = []
        for role in ["admin", "moderator", "user", "viewer"] { roleTokens.append((role, try await TestTokens.rs256(role: role))) }
        let forged = [
            ("expired", try await TestTokens.rs256(role: "owner", expiresIn: -60)),
            ("signed by another key", try await TestTokens.rs256(role: "owner", privateKey: TestKeys.otherRSAPrivate)),
            ("alg none", TestTokens.unsigned()), ("HS256 keyed with the public key", try await TestTokens.hs256KeyedWithThePublicKey())
        ]
        for (method, path) in Self.endpoints {
            let body = method == "GET" ? nil : "{\"confirmation\": \"RESTORE\", \"totp\": \"000000\"}"
            let bare = try server.request(method, path, body: body)
            #expect(bare.status == 401 && bare.body["code"] as? String == "auth.required", "\(method) \(path): \(bare.text)")
            for (role, token) in roleTokens {
                let refused = try server.request(method, path, headers: [("Authorization", "Bearer \(token)")], body: body)
                #expect(refused.status == 403 && refused.body["code"] as? String == "auth.forbidden", "\(role) \(method) \(path): \(refused.text)")
            }
            for (what, token) in forged {
                let refused = try server.request(method, path, headers: [("Authorization", "Bearer \(token)")], body: body)
                #expect(refused.status == 401 && refused.body["code"] as? String == "auth.required", "\(what) \(method) \(path): \(refused.text)")
            }
            if method != "GET" {
                let noCSRF = try server.request(method, path, headers: [("Cookie", cookie)], body: body)
                #expect(noCSRF.status == 403 && noCSRF.body["code"] as? String == "auth.forbidden", "\(method) \(path) without CSRF: \(noCSRF.text)")
            }
        }
        // The owner's own token gets in, and needs no CSRF token: a browser never sends it by itself.
        let owner = try await TestTokens.rs256(role: "owner")
        let jobs = try server.request("GET", "/api/jobs", headers: [("Authorization", "Bearer \(owner)")])
        #expect(jobs.status == 200, "\(jobs.text)")
        let log = (try? String(contentsOfFile: server.log, encoding: .utf8)) ?? ""
        #expect(!log.contains(owner) && !log.contains("PASSWORD-MARKER"))
    }

    @Test func aKeyThatIsNotRS256OrES256StopsTheServerWithOneLine() throws {
        let ws = try Workspace()
        let key = try ws.write("app-jwt.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
        let config = try ws.config(
            stores: [try ws.mkdir("store")],
            extra: "[dashboard]\nlisten = \"127.0.0.1:\(Fixture.freePort())\"\nowner_password_file = \"\(ws.file("etc/owner.hash"))\"\n"
                + "totp_secret_file = \"\(ws.file("etc/owner.totp"))\"\njwt_public_key_file = \"\(key)\"\n")
        let twice = try ws.write("twice", "\(Self.password)\n\(Self.password)\n")
        #expect(try ws.walvault(["owner", "set-password", "--config", config], stdin: twice).status == 0)
        #expect(try ws.walvault(["owner", "enroll-2fa", "--config", config]).status == 0)
        let serve = try ws.walvault(["serve", "--config", config])
        #expect(serve.status == 1)
        #expect(
            serve.stderr
                == "walvault serve: error: \(key) (dashboard.jwt_public_key_file) is not an RSA (2048 bits or more) or P-256 public key in PEM; give the host application's public key: -----BEGIN PUBLIC KEY----- … (RS256 or ES256)\n",
            "\(serve.stderr)")
    }

    @Test func apiTokensAreMadeByTheOwnerScopedShownOnceKeptAsAHashAndRevoked() throws {
        let server = try Server()
        let login = try server.login()
        let session = [("Cookie", try #require(Self.cookie(login.headers))), ("X-CSRF-Token", try #require(login.body["csrf_token"] as? String))]
        func make(_ name: String, _ scope: String) throws -> (status: Int, headers: WalvaultHTTP.HTTPResponse, body: [String: Any], text: String) {
            try server.request(
                "POST", "/api/tokens", headers: session + [("Content-Type", "application/json")],
                body: "{\"name\": \"\(name)\", \"scope\": \"\(scope)\"}")
        }
        let reader = try make("monitor", "read")
        let owner = try make("deploy", "owner")
        #expect(reader.status == 201 && owner.status == 201, "\(reader.text) \(owner.text)")
        let readToken = try #require(reader.body["token"] as? String)
        let ownerToken = try #require(owner.body["token"] as? String)
        #expect(readToken.hasPrefix("wvt_") && readToken.count > 40)
        #expect(try make("x", "admin").status == 400)
        #expect(try make("", "read").status == 400)

        // Read may read; only owner may change anything; neither needs a CSRF token.
        #expect(try server.request("GET", "/api/jobs", headers: [("Authorization", "Bearer \(readToken)")]).status == 200)
        let readOnly = try server.request("POST", "/api/jobs/x/cancel", headers: [("Authorization", "Bearer \(readToken)")])
        #expect(readOnly.status == 403 && (readOnly.body["problem"] as? String)?.contains("may only read") == true, "\(readOnly.text)")
        #expect(
            try server.request("POST", "/api/jobs/x/cancel", headers: [("Authorization", "Bearer \(ownerToken)")]).status == 404, "past the guard")
        // A token cannot mint tokens.
        let minted = try server.request(
            "POST", "/api/tokens", headers: [("Authorization", "Bearer \(ownerToken)"), ("Content-Type", "application/json")],
            body: "{\"name\": \"more\", \"scope\": \"owner\"}")
        #expect(minted.status == 403)

        // Listed with the last use, never with the token or its hash; the file holds only hashes, 0600.
        let listed = try server.request("GET", "/api/tokens", headers: session)
        let tokens = listed.body["tokens"] as? [[String: Any]] ?? []
        #expect(tokens.count == 2 && tokens.contains { $0["name"] as? String == "monitor" && $0["last_used_at"] is Int }, "\(listed.text)")
        #expect(!listed.text.contains(readToken) && !listed.text.contains("digest"))
        let file = server.ws.file("etc/api-tokens.json")
        let stored = try String(contentsOfFile: file, encoding: .utf8)
        #expect(!stored.contains(readToken) && !stored.contains(ownerToken) && stored.contains("digest"))
        #expect((try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int) == 0o600)

        // Revoked: refused at once.
        let id = try #require(tokens.first { $0["name"] as? String == "monitor" }?["id"] as? String)
        #expect(try server.request("DELETE", "/api/tokens/\(id)", headers: session).status == 204)
        #expect(try server.request("DELETE", "/api/tokens/\(id)", headers: session).status == 404)
        #expect(try server.request("GET", "/api/jobs", headers: [("Authorization", "Bearer \(readToken)")]).status == 401)
        #expect(try server.request("GET", "/api/jobs", headers: [("Authorization", "Bearer wvt_forged")]).status == 401)
        let log = (try? String(contentsOfFile: server.log, encoding: .utf8)) ?? ""
        #expect(!log.contains(readToken) && !log.contains(ownerToken))
    }

    /// A self-signed certificate for 127.0.0.1 and its key, from the openssl command.
    static func selfSigned(_ ws: Workspace, _ name: String) throws -> (certificate: String, key: String) {
        let certificate = ws.file("\(name).crt")
        let key = ws.file("\(name).key")
        let made = try run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", certificate
            ])
        guard made.status == 0 else { throw TestFailure("openssl req: \(made.stderr)") }
        return (certificate, key)
    }

    static func tlsConfig(_ ws: Workspace, port: Int, certificate: String, key: String) throws -> String {
        let config = try ws.config(
            stores: [try ws.mkdir("store")],
            extra:
                "spool = \"\(try ws.mkdir("spool"))\"\n[dashboard]\nlisten = \"127.0.0.1:\(port)\"\nowner_password_file = \"\(ws.file("etc/owner.hash"))\"\n"
                + "totp_secret_file = \"\(ws.file("etc/owner.totp"))\"\ntls_certificate_file = \"\(certificate)\"\ntls_key_file = \"\(key)\"\n"
        )
        let twice = try ws.write("twice", "\(Self.password)\n\(Self.password)\n")
        guard try ws.walvault(["owner", "set-password", "--config", config], stdin: twice).status == 0,
            try ws.walvault(["owner", "enroll-2fa", "--config", config]).status == 0
        else { throw TestFailure("owner set-password or enroll-2fa failed") }
        return config
    }

    @Test func servesHTTPSWithTheConfiguredCertificateAndSecureCookies() throws {
        let ws = try Workspace()
        let (certificate, key) = try Self.selfSigned(ws, "server")
        let port = Fixture.freePort()
        let config = try Self.tlsConfig(ws, port: port, certificate: certificate, key: key)
        let log = ws.file("serve.log")
        let pid = try spawn(ws.walvault, ["serve", "--config", config], stdout: log, stderr: log)
        defer {
            kill(pid, SIGTERM)
            _ = waitFor(pid)
        }
        let url = "https://127.0.0.1:\(port)"
        // Verified against the certificate, the way a browser that trusts it would.
        var refused = ProcessResult(status: -1, stdout: "", stderr: "")
        try poll("walvault serve listening with TLS on \(port)") {
            refused = try run("/usr/bin/curl", ["-sS", "--cacert", certificate, "-o", "/dev/null", "-w", "%{http_code}", "\(url)/api/jobs"])
            return refused.status == 0
        }
        #expect(refused.stdout == "401", "\(refused)")
        let secret = try String(contentsOfFile: ws.file("etc/owner.totp"), encoding: .utf8).split(separator: "\n")[0].description
        let code = TOTPCheck(secret: secret).code(atSecond: Int64(Date().timeIntervalSince1970))
        let login = try run(
            "/usr/bin/curl",
            [
                "-sS", "-i", "--cacert", certificate, "-H", "Content-Type: application/json", "--data",
                "{\"password\": \"\(Self.password)\", \"totp\": \"\(code)\"}", "\(url)/api/session"
            ])
        let cookie = login.stdout.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie: walvault_session=") } ?? ""
        #expect(login.stdout.hasPrefix("HTTP/1.1 201"), "\(login)")
        #expect(cookie.contains("; Secure") && cookie.contains("; HttpOnly") && cookie.contains("SameSite=Strict"), "\(cookie)")
        // Plain HTTP on the TLS port gets no page.
        let clear = try run("/usr/bin/curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "http://127.0.0.1:\(port)/api/jobs"])
        #expect(clear.status != 0 && clear.stdout == "000", "\(clear)")
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(!output.contains("without tls"), "\(output)")
    }

    @Test func tlsFilesThatCannotServeAreRefusedWithOneLine() throws {
        let ws = try Workspace()
        let (certificate, key) = try Self.selfSigned(ws, "server")
        let (_, otherKey) = try Self.selfSigned(ws, "other")
        let cases = [
            (
                ws.file("missing.crt"), key,
                "walvault serve: error: [dashboard] tls_certificate_file \(ws.file("missing.crt")): cannot be read as a PEM certificate chain; check that it exists, that the server's user can read it and that it begins with -----BEGIN CERTIFICATE-----\n"
            ),
            (
                certificate, try ws.write("garbage.key", "KEY-MARKER not a key\n"),
                "walvault serve: error: [dashboard] tls_key_file \(ws.file("garbage.key")): cannot be read as an unencrypted PEM private key; check that it exists, that only the server's user can read it and that it has no passphrase\n"
            ),
            (
                certificate, otherKey,
                "walvault serve: error: [dashboard] tls_key_file \(otherKey) is not the private key of tls_certificate_file \(certificate); give the key the certificate was issued for\n"
            )
        ]
        for (index, (certificateFile, keyFile, expected)) in cases.enumerated() {
            let dir = try Workspace()
            let config = try Self.tlsConfig(dir, port: Fixture.freePort(), certificate: certificateFile, key: keyFile)
            let serve = try dir.walvault(["serve", "--config", config])
            #expect(serve.status == 1, "case \(index)")
            #expect(serve.stderr == expected, "case \(index): \(serve.stderr)")
            #expect(!serve.stderr.contains("KEY-MARKER"))
        }
    }
}
