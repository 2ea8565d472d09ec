import Foundation
import Testing
import WalvaultHTTP
import WalvaultTesting

/// schemathesis against the OpenAPI description the server serves and the server itself, over a
/// real PostgreSQL 15 with a backup in the store: generated requests, valid and not, to every
/// operation; no answer may be a 5xx, and every answer must match the description (status,
/// content type, schema). It calls as the owner's JWT, and checks that leaving it out is refused.
@Suite(.serialized) struct APIConformanceTests {
    @Test func everyAnswerMatchesTheOpenAPIDescriptionAndNoneIsAServerError() async throws {
        let server = try ServerFixture()
        try server.cluster.sql("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
        #expect(try server.login().0 == 201)
        _ = try server.backupNow()
        let token = try await TestTokens.rs256(role: "owner")
        let described = try server.call("GET", "/api/openapi.json")
        #expect(described.status == 200 && described.body["openapi"] as? String == "3.1.0")
        let schema = try server.ws.write("openapi.json", described.text)
        let report = server.ws.file("schemathesis.txt")
        // The owner's token as the bearer scheme's credentials, so schemathesis also tries the
        // operations with it left out or spoiled, and expects 401 or 403.
        let settings = try server.ws.write("schemathesis.toml", "[auth.openapi.bearer]\nbearer = \"\(token)\"\n")
        let result = try run(
            "/usr/bin/env",
            [
                "python3", "-m", "schemathesis.cli", "--config-file", settings, "run", schema, "--url", "http://127.0.0.1:\(server.port)",
                "--header", "X-Forwarded-For: 10.0.0.77", "--checks", "all",
                "--max-examples", "12", "--generation-deterministic", "--request-timeout", "60", "--no-color"
            ])
        try (result.stdout + result.stderr).write(toFile: report, atomically: true, encoding: .utf8)
        #expect(result.status == 0, "schemathesis: \(result.stdout.suffix(8000)) \(result.stderr.suffix(2000))")
    }
}
