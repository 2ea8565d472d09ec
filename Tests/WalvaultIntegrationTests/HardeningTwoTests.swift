import Foundation
import Testing
import WalvaultTesting

/// Issue 24 against real PostgreSQL 15 and moto (signatures checked): URIs, secrets in a broken
/// conninfo, PostgreSQL's own catalogs, schemas a restore leaves, an archive_command switched
/// under a backup, rows deleted only once every store holds their export, verify while ship runs.
@Suite(.serialized) struct HardeningTwoTests {
    static let passwordMarker = "PASSWORD-MARKER-7731"

    /// Items 5, 7, 8 and 11 (dumps): one cluster, its conninfo written as a URI with a password,
    /// a query string and a Unix socket.
    @Test func uriConninfoSecretsSystemCatalogsAndRestoredSchemas() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let cluster = PostgresCluster(workspace: ws, name: "pgdata")
        let uri = "postgresql://postgres:\(Self.passwordMarker)@/postgres?host=\(ws.path)&port=\(cluster.port)&application_name=walvault_uri"
        let config = try ws.config(
            stores: [store],
            extra: """
                pgdata = "\(ws.file("pgdata"))"
                conninfo = "\(uri)"
                spool = "\(try ws.mkdir("spool"))"
                [history]
                conninfo = "\(uri)"
                project_id = "uri"
                journal = "\(ws.file("journal/history.jsonl"))"
                """)
        try cluster.initdb(settings: [
            "wal_level": "replica", "archive_mode": "on",
            "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
        ])
        try ws.giveToPostgres()
        chmod(config, 0o600)
        try cluster.start()
        defer { try? cluster.stop(mode: "immediate") }
        func walvault(_ arguments: [String], config path: String = config) throws -> ProcessResult {
            let result = try ws.walvault(["--config", path] + arguments, asPostgres: true)
            #expect(
                !result.stdout.contains(Self.passwordMarker) && !result.stderr.contains(Self.passwordMarker),
                "the password in the output of \(arguments)")
            return result
        }

        // Item 5: the URI reaches the server whole, for backup, migrate, history and check.
        #expect(try walvault(["migrate"]).status == 0)
        try cluster.sql("CREATE SCHEMA tenant_a; CREATE TABLE tenant_a.t AS SELECT g FROM generate_series(1, 100) g")
        let backup = try walvault(["backup"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let check = try walvault(["check"])
        #expect(check.stdout.contains("ok   archiving:"), "\(check.stdout) \(check.stderr)")
        #expect(try cluster.sql("SELECT count(*) FROM control_plane.backups WHERE operation = 'backup' AND status = 'succeeded'") == "1")
        let journal = (try? String(contentsOfFile: ws.file("journal/history.jsonl"), encoding: .utf8)) ?? ""
        #expect(journal.isEmpty, "rows reached the table, none waits in the journal: \(journal)")

        // Item 7: a password without its key is never echoed, nor stored in the history.
        let broken = try ws.write(
            "broken.toml",
            try String(contentsOfFile: config, encoding: .utf8)
                .replacingOccurrences(
                    of: "conninfo = \"\(uri)\"\nspool",
                    with: "conninfo = \"host=\(ws.path) port=\(cluster.port) user=postgres \(Self.passwordMarker)\"\nspool"))
        try ws.giveToPostgres()
        chmod(broken, 0o600)
        for command in [["backup"], ["check"], ["dump", "--schema", "tenant_a"], ["export-logs", "--table", "t"]] {
            let failed = try walvault(command, config: broken)
            #expect(failed.status != 0, "\(command)")
            #expect(
                (failed.stdout + failed.stderr).contains("conninfo is not a valid libpq connection string (not shown: it may hold a password)"),
                "\(command): \(failed.stdout) \(failed.stderr)")
        }
        #expect(try cluster.sql("SELECT count(*) FROM control_plane.backups WHERE row_to_json(backups)::text LIKE '%\(Self.passwordMarker)%'") == "0")
        #expect(try cluster.sql("SELECT count(*) FROM control_plane.backups WHERE status = 'failed'") != "0", "the failures were recorded")
        // Issue 25, item 6 (migration 0004): who and from where, and every failed row's stable code.
        #expect(try cluster.sql("SELECT string_agg(DISTINCT actor || ' ' || origin, ',') FROM control_plane.backups") == "postgres cli")
        #expect(try cluster.sql("SELECT count(*) FROM control_plane.backups WHERE status = 'failed' AND error_code IS NULL") == "0")
        #expect(
            try cluster.sql("SELECT string_agg(DISTINCT error_code, ',') FROM control_plane.backups WHERE status = 'failed'") == "postgres.refused")

        // Item 8: PostgreSQL's own catalogs are refused, and nothing is exported or deleted.
        let roles = try cluster.sql("SELECT count(*) FROM pg_authid")
        let authid = try walvault(["export-logs", "--table", "pg_authid", "--time-column", "rolvaliduntil", "--delete-exported"])
        #expect(
            authid.status == 1 && authid.stderr.contains("--table pg_authid: names starting with pg_ are PostgreSQL's system tables"),
            "\(authid.stderr)")
        #expect(try cluster.sql("SELECT count(*) FROM pg_authid") == roles)
        try cluster.sql("CREATE TABLE public.tables (created_at timestamptz)")
        try cluster.sql("ALTER ROLE postgres SET search_path = information_schema, public")
        let shadowed = try walvault(["export-logs", "--table", "tables"])
        #expect(
            shadowed.status == 1 && shadowed.stderr.contains("--table tables is information_schema.tables, a system table of PostgreSQL"),
            "\(shadowed.stderr)")
        try cluster.sql("ALTER ROLE postgres RESET search_path")
        #expect(filesRecursively(store).filter { $0.hasPrefix("main/logs/") }.isEmpty)
        let dump = try walvault(["dump", "--schema", "tenant_a"])
        #expect(dump.status == 0, "\(dump.stderr)")
        let id = try #require(dump.stdout.split(separator: " ").first { $0.hasPrefix("tenant_a/") }.map { String($0.dropLast()) })
        for schema in ["information_schema", "pg_catalog", "pg_toast"] {
            let into = try walvault(["dump", "restore", "--id", id, "--into-schema", schema, "--replace"])
            #expect(into.status == 1 && into.stderr.contains("--into-schema \(schema): \(schema) is a system schema of PostgreSQL"), "\(into.stderr)")
        }
        #expect(try cluster.sql("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'information_schema%'") == "1")
        let catalogDump = try walvault(["dump", "--schema", "pg_catalog"])
        #expect(catalogDump.status == 1 && catalogDump.stderr.contains("--schema pg_catalog: pg_catalog is a system schema"), "\(catalogDump.stderr)")

        // Item 11: what a restore leaves is not a tenant; a name with an escape code is shown escaped.
        #expect(try walvault(["dump", "restore", "--id", id]).status == 0)
        #expect(try walvault(["dump", "restore", "--id", id, "--replace"]).status == 0)
        #expect(
            try cluster.sql("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant\\_a\\_%'") == "2",
            "tenant_a_restored and tenant_a_before_restore_…")
        try cluster.sql("CREATE SCHEMA \"tenant_\u{1b}[2J\"")
        let all = try walvault(["dump", "--all-tenants"])
        #expect(all.status == 1, "the escaped name fails, the rest is dumped")
        #expect(!all.stdout.contains("\u{1b}") && !all.stderr.contains("\u{1b}"), "no raw escape code reaches the terminal")
        #expect(all.stderr.contains("schema 'tenant_\\u{1b}[2J'"), "\(all.stderr)")
        #expect(all.stdout.contains("1 of 2 schemas dumped"), "only tenant_a and the escaped one, not the restored copies: \(all.stdout)")

        // Item 11: a store that holds only exports has no archive.info to miss.
        let exportsStore = try ws.mkdir("exports-only")
        let exportsConfig = try ws.write(
            "exports.toml",
            try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "path = \"\(store)\"", with: "path = \"\(exportsStore)\""))
        try ws.giveToPostgres()
        chmod(exportsConfig, 0o600)
        #expect(try walvault(["dump", "--schema", "tenant_a"], config: exportsConfig).status == 0)
        let verify = try walvault(["verify"], config: exportsConfig)
        #expect(verify.status == 0 && !verify.stdout.contains("archive.info"), "\(verify.stdout)")
    }

    /// Low item: the drill connects to the restored cluster as the role [cluster] conninfo names,
    /// not as the OS user running it (a cluster made with initdb -U dbowner has no role postgres).
    @Test func aDrillConnectsAsTheConninfoUser() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let drills = try ws.mkdir("drills")
        let cluster = PostgresCluster(workspace: ws, name: "pgdata")
        let config = try ws.config(
            stores: [store],
            extra: """
                pgdata = "\(cluster.pgdata)"
                conninfo = "host=\(ws.path) port=\(cluster.port) user=dbowner dbname=postgres"
                """)
        try cluster.initdb(
            settings: [
                "wal_level": "replica", "archive_mode": "on",
                "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
            ], arguments: ["-U", "dbowner"])
        try ws.giveToPostgres()
        try cluster.start()
        defer { try? cluster.stop(mode: "immediate") }
        func psql(_ sql: String) throws -> ProcessResult {
            try run(
                "/usr/bin/psql", ["-X", "-q", "-At", "-h", ws.path, "-p", "\(cluster.port)", "-U", "dbowner", "-d", "postgres", "-c", sql],
                asPostgres: true)
        }
        #expect(try psql("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g").status == 0)
        #expect(try psql("SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'").stdout.hasPrefix("0"), "no role named after the OS user")
        let backup = try ws.walvault(["--config", config, "backup"], asPostgres: true)
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(try psql("SELECT pg_switch_wal()").status == 0)
        let drill = try ws.walvault(["--config", config, "drill", "--directory", drills], asPostgres: true)
        #expect(drill.status == 0, "\(drill.stdout) \(drill.stderr)")
        #expect(drill.stdout.contains("drill passed"), "\(drill.stdout)")
    }

    /// Item 12: archive_command switched to another tool after archiving started; the backup
    /// refuses before copying instead of waiting out --wal-timeout.
    @Test func aBackupRefusesAtOnceWhenArchiveCommandWasSwitched() throws {
        let ws = try Workspace()
        let store = try ws.mkdir("store")
        let cluster = PostgresCluster(workspace: ws, name: "pgdata")
        let config = try ws.config(
            stores: [store],
            extra: """
                pgdata = "\(ws.file("pgdata"))"
                conninfo = "host=\(ws.path) port=\(cluster.port) user=postgres dbname=postgres"
                """)
        try cluster.initdb(settings: [
            "wal_level": "replica", "archive_mode": "on",
            "archive_command": "'\(ws.walvault) --config \(config) archive-push %p'"
        ])
        try ws.giveToPostgres()
        try cluster.start()
        defer { try? cluster.stop(mode: "immediate") }
        let last = try cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
        #expect(try cluster.waitForArchive(of: last).failed == 0)
        try cluster.sql("ALTER SYSTEM SET archive_command = '/bin/true'")
        try cluster.sql("SELECT pg_reload_conf()")
        var switched = false
        for _ in 0..<100 where !switched {
            switched = try cluster.sql("SHOW archive_command") == "/bin/true"
            if !switched { usleep(100_000) }
        }
        #expect(switched)
        let backup = try ws.walvault(["--config", config, "backup", "--wal-timeout", "3600"], asPostgres: true)
        #expect(backup.status == 1)
        #expect(
            backup.stderr.contains(
                "archive_command is '/bin/true', which does not run walvault archive-push, and it has archived nothing since the configuration was last loaded"
            ),
            "\(backup.stderr)")
        #expect(!filesRecursively(store).contains { $0.contains("/backup/") }, "nothing was copied")
    }

    /// Item 10: rows are deleted only when every store holds their export, async ones included.
    @Test func exportLogsKeepsTheRowsWhileAnAsyncStoreLacksTheExport() throws {
        let proxy = try FaultProxy()
        let rig = try OffsiteShippingTests.Rig { _ in proxy.endpoint }
        try rig.cluster.start()
        defer { try? rig.cluster.stop(mode: "immediate") }
        try rig.cluster.sql(
            "CREATE TABLE project_logs AS SELECT now() - g * interval '1 minute' AS created_at, g AS n FROM generate_series(1, 500) g")
        try proxy.inject("refuse")
        let until = try rig.cluster.sql("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'")
        let kept = try rig.walvault(["export-logs", "--until", until, "--delete-exported", "--async-wait", "3"])
        #expect(kept.status == 1)
        #expect(
            kept.stderr.contains("its rows were kept: async store \"cloud\" did not hold it within 3 s, and deleted rows would exist nowhere else"),
            "\(kept.stderr)")
        #expect(try rig.cluster.sql("SELECT count(*) FROM project_logs") == "500")
        #expect(filesRecursively(rig.store).contains { $0.hasPrefix("main/logs/project_logs/") }, "the export itself is stored")

        try proxy.inject("clear")
        let deleted = try rig.walvault(["export-logs", "--until", until, "--delete-exported"])
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(deleted.stdout.contains("deleted the 500 exported rows"), "\(deleted.stdout)")
        #expect(try rig.cluster.sql("SELECT count(*) FROM project_logs") == "0")
        #expect(try rig.bucketObjects().keys.contains { $0.hasPrefix("main/logs/project_logs/") })
    }

    /// Item 9, and `ship --catch-up` for exports (item 11): verify while the shipper works finds no
    /// object "missing" that was only on its way; exports made before a store was added reach it.
    @Test func verifyWhileShippingReportsNothingMissingAndCatchUpShipsExports() throws {
        let rig = try OffsiteShippingTests.Rig { $0.endpoint }
        try rig.cluster.start()
        defer { try? rig.cluster.stop(mode: "immediate") }
        try run(
            Fixture.postgresBin + "/pgbench", ["-i", "-s", "2", "-h", rig.ws.path, "-p", "\(rig.cluster.port)", "-U", "postgres", "postgres"],
            asPostgres: true)
        #expect(try rig.walvault(["backup"]).status == 0)
        try rig.waitUntilShipped()
        for round in 0..<3 {
            // WAL keeps coming while verify lists and reads: archive-push queues, the shipper sends.
            let writer = try spawn(
                "/bin/sh",
                [
                    "-c",
                    """
                    for i in $(seq 1 25); do
                      psql -X -q -h \(rig.ws.path) -p \(rig.cluster.port) -U postgres -d postgres -c "INSERT INTO pgbench_history SELECT 1, 1, 1, g, now() FROM generate_series(1, 2000) g" -c "SELECT pg_switch_wal()" >/dev/null
                    done
                    """
                ], asPostgres: true)
            let verify = try rig.walvault(["verify"])
            _ = waitFor(writer)
            #expect(!verify.stdout.contains("but not in this one"), "round \(round): \(verify.stdout)")
            #expect(verify.status == 0, "round \(round): \(verify.stdout) \(verify.stderr)")
        }
        // Low item: --store given twice verifies both stores, not the last one only.
        let both = try rig.walvault(["verify", "--store", "local", "--store", "cloud"])
        #expect(both.stdout.contains("in 2 stores"), "\(both.stdout)")

        // A dump and a log export made while the cloud store was not configured yet.
        let text = try String(contentsOfFile: rig.config, encoding: .utf8)
        let localOnly = try rig.ws.write("local-only.toml", text.components(separatedBy: "[[stores]]\nname = \"cloud\"")[0])
        try rig.ws.giveToPostgres()
        chmod(localOnly, 0o600)
        try rig.cluster.sql(
            "CREATE SCHEMA tenant_z; CREATE TABLE tenant_z.t AS SELECT 1 AS n; CREATE TABLE project_logs AS SELECT now() - interval '1 day' AS created_at"
        )
        #expect(try rig.ws.walvault(["--config", localOnly, "dump", "--schema", "tenant_z"], asPostgres: true).status == 0)
        #expect(try rig.ws.walvault(["--config", localOnly, "export-logs"], asPostgres: true).status == 0)
        let catchUp = try rig.walvault(["ship", "--catch-up"])
        #expect(catchUp.status == 0, "\(catchUp.stderr)")
        try rig.waitUntilShipped()
        let cloud = try rig.bucketObjects().keys
        #expect(cloud.contains { $0.hasPrefix("main/dump/tenant_z/") }, "\(cloud.sorted().suffix(5))")
        #expect(cloud.contains { $0.hasPrefix("main/logs/project_logs/") })
    }
}
