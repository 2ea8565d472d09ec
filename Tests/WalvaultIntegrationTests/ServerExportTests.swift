import Foundation
import Testing
import WalvaultHTTP

/// Tenant schema dumps and log exports through the API over a real PostgreSQL 15: made as jobs,
/// listed, downloaded once through a short-lived link (checked before the first byte leaves),
/// restored into a new schema (or, with the typed word and a new code, over the old one); and the
/// host application's paths from the seeds as aliases.
@Suite(.serialized) struct ServerExportTests {
    @Test func dumpsAndLogExportsAreMadeListedDownloadedOnceAndRestored() throws {
        let server = try ServerFixture()
        try server.cluster.sql(
            "CREATE SCHEMA tenant_acme; CREATE TABLE tenant_acme.orders AS SELECT g AS id, 'order ' || g AS note FROM generate_series(1, 2500) g")
        try server.cluster.sql(
            "CREATE TABLE project_logs (id bigserial, created_at timestamptz NOT NULL DEFAULT now(), message text); INSERT INTO project_logs (message) SELECT 'line ' || g FROM generate_series(1, 300) g"
        )
        #expect(try server.login().0 == 201)
        func finished(_ response: (status: Int, body: [String: Any], text: String)) throws -> [String: Any] {
            guard response.status == 202, let id = response.body["job_id"] as? String else { throw TestFailure("not started: \(response.text)") }
            return try server.finished(id)
        }

        #expect(try finished(server.call("POST", "/api/exports/schema", body: "{\"schema\": \"tenant_acme\"}"))["state"] as? String == "succeeded")
        for refused in ["{}", "{\"schema\": \"x; DROP\"}", "{\"schema\": \"tenant_acme\", \"format\": \"jsonl\"}"] {
            #expect(try server.call("POST", "/api/exports/schema", body: refused).status == 400, "\(refused)")
        }
        // The seed's path and field: the tenant's slug.
        let viaAlias = try server.call("POST", "/api/backup/export", body: "{\"tenant\": \"acme\", \"format\": \"plain\"}")
        #expect(try finished(viaAlias)["state"] as? String == "succeeded")
        #expect(try finished(server.call("POST", "/api/backup/export-logs", body: "{\"format\": \"json\"}"))["state"] as? String == "succeeded")

        let exports = try server.call("GET", "/api/exports").body["exports"] as? [[String: Any]] ?? []
        let dumps = exports.filter { $0["kind"] as? String == "dump" }
        #expect(dumps.count == 2 && exports.filter { $0["kind"] as? String == "logs" }.count == 1, "\(exports)")
        let custom = try #require(dumps.first { $0["format"] as? String == "custom" }?["id"] as? String)

        // Download: a one-time link, for the owner only, and the bytes are pg_dump's.
        let headers = [("Cookie", server.cookie), ("X-Forwarded-For", "10.0.0.9")]
        let (redirect, _) = try server.http.perform(
            HTTPRequest(method: "GET", url: "http://127.0.0.1:\(server.port)/api/exports/\(custom)/download", headers: headers))
        #expect(redirect.status == 303)
        let link = try #require(redirect.header("Location"))
        #expect(link.hasPrefix("/api/downloads/") && !link.contains("tenant_acme"), "the link names nothing")
        let (stranger, _) = try server.http.perform(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(server.port)\(link)"))
        #expect(stranger.status == 401, "a link without the owner's session is refused (and not spent)")
        let (download, bytes) = try server.http.perform(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(server.port)\(link)", headers: headers))
        #expect(download.status == 200 && Array(bytes.prefix(5)) == Array("PGDMP".utf8), "\(download.status)")
        #expect(download.header("Content-Disposition")?.contains("tenant_acme_") == true)
        let (again, _) = try server.http.perform(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(server.port)\(link)", headers: headers))
        #expect(again.status == 404, "a link works once")

        // Its page: the checksum in its name, its copy, the history row that made it, and the
        // history on /backups links to it.
        let page = try server.call("GET", "/exports/\(custom)")
        let sha256 = String(try #require(custom.split(separator: "/").last))
        #expect(page.status == 200 && page.text.contains("<li>store1: "), "\(page.text)")
        #expect(page.text.range(of: "<dd class=\"hash\" id=\"export-sha256\">[0-9a-f]{64}</dd>", options: .regularExpression) != nil, "\(sha256)")
        #expect(page.text.contains("<td>dump</td><td>succeeded</td><td>store1</td>"), "\(page.text)")
        #expect(page.text.contains("<input type=\"hidden\" name=\"id\" value=\"\(custom)\">"))
        let listed = try server.call("GET", "/backups?operation=dump")
        #expect(listed.text.contains("<a href=\"/exports/\(custom)\">\(custom)</a>"), "\(listed.text)")
        #expect(try server.call("GET", "/exports/tenant_acme/20990101T000000000000Z").text.contains("id=\"page-error\""))

        // Restore into a new schema; over the old one only with the typed word and a new code.
        #expect(
            try finished(server.call("POST", "/api/exports/restore", body: "{\"id\": \"\(custom)\", \"into_schema\": \"tenant_acme_copy\"}"))["state"]
                as? String == "succeeded")
        #expect(try server.cluster.sql("SELECT count(*) FROM tenant_acme_copy.orders") == "2500")
        let overwrite = try server.call("POST", "/api/exports/restore", body: "{\"id\": \"\(custom)\", \"replace\": true}")
        #expect(overwrite.status == 400 && overwrite.body["code"] as? String == "auth.confirmation", "\(overwrite.text)")
        try server.cluster.sql("DELETE FROM tenant_acme.orders WHERE id > 100")
        let replaced = try server.call(
            "POST", "/api/exports/restore",
            body: "{\"id\": \"\(custom)\", \"replace\": true, \"confirmation\": \"RESTORE\", \"totp\": \"\(server.freshCode())\"}")
        #expect(try finished(replaced)["state"] as? String == "succeeded")
        #expect(try server.cluster.sql("SELECT count(*) FROM tenant_acme.orders") == "2500")
        // The seed's restore by the store's handle for the dump.
        let fileID = try #require(server.history("operation=dump&type=database").first { $0["object_name"] == custom }?["file_id"])
        let byHandle = try server.call("POST", "/api/backup/restore", body: "{\"file_id\": \"\(fileID)\", \"into_schema\": \"tenant_acme_2\"}")
        #expect(try finished(byHandle)["state"] as? String == "succeeded")
        #expect(try server.cluster.sql("SELECT count(*) FROM tenant_acme_2.orders") == "2500")
        #expect(try server.call("POST", "/api/backup/restore", body: "{\"file_id\": \"no-such-handle\"}").status == 404)
        #expect(try server.call("POST", "/api/exports/restore", body: "{}").status == 400)
    }
}
