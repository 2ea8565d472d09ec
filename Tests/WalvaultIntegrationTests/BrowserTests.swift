import Foundation
import Testing

/// The dashboard in real headless Chromium (`Tests/Browser/dashboard.py`, Selenium: log in, back
/// up, the history, a refused restore, a restore, a tenant export downloaded, the chart) against
/// `walvault serve` over a real PostgreSQL 15, with a files snapshot's rows in the history; then the copy the browser restored is started and
/// must promote with the data of the moment it was restored to. Screenshots are kept in
/// `.build/screenshots/` (CI keeps them as artifacts).
@Suite(.serialized) struct BrowserTests {
    @Test func theOwnerLogsInBacksUpSeesTheHistoryAndRestoresFromTheBrowser() throws {
        // A tree of the application's files, snapshotted before the browser comes (issue 30).
        let filesWorkspace = try Workspace()
        let uploads = try filesWorkspace.mkdir("uploads")
        let server = try ServerFixture(extra: "[[storage]]\nname = \"uploads\"\npath = \"\(uploads)\"\n")
        try "an attachment\n".write(toFile: uploads + "/invoice.pdf", atomically: true, encoding: .utf8)
        let files = try server.ws.walvault(["files", "backup", "--config", server.config], asPostgres: true)
        #expect(files.status == 0, "\(files.stderr)")
        try server.cluster.sql("CREATE TABLE t AS SELECT g FROM generate_series(1, 5000) g")
        try server.cluster.sql("CREATE SCHEMA tenant_acme; CREATE TABLE tenant_acme.orders AS SELECT g AS id FROM generate_series(1, 100) g")
        let downloads = try server.ws.mkdir("downloads")
        // A second size sample, so the chart has a line to draw.
        _ = try server.ws.walvault(["check", "--config", server.config], asPostgres: true)
        let screenshots = FileManager.default.currentDirectoryPath + "/.build/screenshots"
        try FileManager.default.createDirectory(atPath: screenshots, withIntermediateDirectories: true)
        let pgdata = server.ws.file("restored")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
            "Browser/dashboard.py"
        ).path
        let result = try run(
            "/usr/bin/env",
            [
                "python3", script, "--url", "http://127.0.0.1:\(server.port)", "--password", ServerFixture.password, "--totp-secret",
                server.secret, "--screenshots", screenshots, "--pgdata", pgdata, "--downloads", downloads, "--schema", "tenant_acme",
                "--files-tree", "uploads"
            ])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr.suffix(3000))")
        guard result.status == 0 else { return }
        #expect(result.stdout.contains("step 7: "), "\(result.stdout)")

        try server.cluster.stop()
        let restored = PostgresCluster(workspace: server.ws, pgdata: pgdata, port: server.cluster.port)
        try restored.start()
        try restored.waitForPromotion()
        #expect(try restored.sql("SELECT count(*) FROM t") == "5000")
        try restored.stop()
        try server.cluster.start()
    }
}
