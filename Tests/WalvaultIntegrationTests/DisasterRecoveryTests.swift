import Foundation
import Testing
import WalvaultSystem
import WalvaultTesting

/// docs/disaster-recovery.md, run as written: its shell blocks are read from the Markdown (never
/// copied here) and run by bash, the first as root and the second as the postgres user, with the
/// machine's values (paths, the bucket and its key) in the environment, where the runbook says to
/// set them. The lost server is real: PostgreSQL 15 archiving into the S3 stand-in only.
@Suite(.serialized) struct DisasterRecoveryTests {
    static let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/disaster-recovery.md").path

    /// The fenced block whose info string is `sh runbook=NAME user=USER`.
    static func block(_ name: String, as user: String) throws -> String {
        let text = try String(contentsOfFile: document, encoding: .utf8)
        let marker = "```sh runbook=\(name) user=\(user)\n"
        guard let start = text.range(of: marker), let end = text[start.upperBound...].range(of: "\n```\n") else {
            throw TestFailure("\(document) has no block marked \"runbook=\(name) user=\(user)\"")
        }
        return String(text[start.upperBound..<end.lowerBound]) + "\n"
    }

    @Test(.enabled(if: getuid() == 0, "the runbook's first block runs as root, as the document says"))
    func aDeadServerIsRebuiltFromS3AloneByTheRunbook() throws {
        let asRoot = try Self.block("dead-server-s3", as: "root")
        let asPostgres = try Self.block("dead-server-s3", as: "postgres")
        let s3 = try S3TestServer.get()
        let prefix = "dr-\(UUID().uuidString.prefix(8).lowercased())"

        // The server that dies: its config and key in etc/, as the runbook will write them again.
        let ws = try Workspace()
        let etc = try ws.mkdir("etc")
        _ = try ws.write("etc/s3-key-id", s3.accessKeyID + "\n")
        _ = try ws.write("etc/s3-secret", s3.secretAccessKey + "\n")
        let pgdata = ws.file("pgdata")
        let config = try ws.write(
            "etc/walvault.toml",
            """
            [cluster]
            name = "main"
            pgdata = "\(pgdata)"
            conninfo = "host=\(ws.path) port=PORT user=postgres dbname=postgres"

            \(s3.storeSection(name: "s3", prefix: prefix, keyFile: "\(etc)/s3-key-id", secretFile: "\(etc)/s3-secret"))

            """)
        let cluster = PostgresCluster(workspace: ws)
        try cluster.initdb(settings: [
            "wal_level": "replica", "archive_mode": "on", "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
        ])
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "PORT", with: "\(cluster.port)")
            .write(toFile: config, atomically: true, encoding: .utf8)
        try ws.giveToPostgres()
        for file in ["walvault.toml", "s3-key-id", "s3-secret"] { chmod(Paths.join(etc, file), 0o600) }
        try cluster.start()
        try cluster.sql("CREATE TABLE orders AS SELECT g AS id, 'order ' || g AS note FROM generate_series(1, 20000) g")
        let backup = try ws.walvault(["--config", config, "backup"], asPostgres: true)
        #expect(backup.status == 0, "\(backup.stderr)")
        try cluster.sql("INSERT INTO orders SELECT g, 'after the backup' FROM generate_series(20001, 23000) g")
        let last = try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
        #expect(try cluster.waitForArchive(of: last).failed == 0)

        // The machine dies: its data directory, its config and its key are gone; the bucket is all.
        try cluster.stop(mode: "immediate")
        try FileManager.default.removeItem(atPath: pgdata)
        try FileManager.default.removeItem(atPath: etc)

        // The new machine: the values the runbook asks for, then its blocks, in order.
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = Paths.dirname(ws.walvault) + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        for (name, value) in [
            ("PGDATA", pgdata), ("PGBIN", Fixture.postgresBin), ("PGHOST", ws.path), ("PGPORT", "\(cluster.port)"), ("ETC", etc),
            ("CLUSTER", "main"), ("S3_ENDPOINT", s3.endpoint), ("S3_REGION", s3.region), ("S3_BUCKET", s3.bucket), ("S3_PREFIX", prefix),
            ("S3_PATH_STYLE", "true"), ("S3_KEY_ID", s3.accessKeyID), ("S3_SECRET", s3.secretAccessKey)
        ] {
            environment[name] = value
        }
        let rootScript = try ws.write("runbook-root.sh", asRoot)
        let postgresScript = try ws.write("runbook-postgres.sh", ": \"${ETC:?}\" \"${PGDATA:?}\"\n" + asPostgres)
        chmod(postgresScript, 0o644)
        let first = try run("/usr/bin/timeout", ["600", "/bin/bash", "-euo", "pipefail", rootScript], environment: environment)
        #expect(first.status == 0, "as root: \(first.stdout) \(first.stderr)")
        #expect((try? FileManager.default.attributesOfItem(atPath: etc + "/s3-secret")[.posixPermissions] as? Int) == 0o600)
        let second = try run(
            "/usr/sbin/runuser", ["-u", "postgres", "--", "/usr/bin/timeout", "600", "/bin/bash", "-euo", "pipefail", postgresScript],
            environment: environment)
        #expect(second.status == 0, "as postgres: \(second.stdout) \(second.stderr)")
        #expect(second.stdout.contains("archiving"), "walvault check ran: \(second.stdout)")

        // Everything archived came back, the rows after the backup included, and the server writes.
        let restored = PostgresCluster(workspace: ws, pgdata: pgdata, port: cluster.port)
        #expect(try restored.sql("SELECT count(*) FROM orders") == "23000")
        #expect(try restored.sql("SELECT pg_is_in_recovery()") == "f")
        try restored.stop()
    }
}
