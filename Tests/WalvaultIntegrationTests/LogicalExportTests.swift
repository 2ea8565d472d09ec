import Foundation
import Testing
import WalvaultTesting

/// walvault dump, dump restore and export-logs against real PostgreSQL 15 and moto (signatures
/// checked): a tenant exported to a local and an S3 store (encrypted), dropped, restored from S3
/// alone and compared table by table; --replace keeps the old schema aside; the other tenant is
/// untouched; every bad input and failure is one line and leaves nothing under a final name.
@Suite(.serialized) struct LogicalExportTests {
    static let passphraseMarker = "PASSPHRASE-MARKER-4417"

    struct Rig {
        let ws: Workspace
        let store: String
        let prefix: String
        let config: String
        let cluster: PostgresCluster
        let server: S3TestServer

        init(extraStores: String = "") throws {
            ws = try Workspace()
            store = try ws.mkdir("store")
            server = try S3TestServer.get()
            prefix = "dump-\(UUID().uuidString.prefix(8).lowercased())"
            let keyFile = try ws.write("s3-key-id", server.accessKeyID + "\n")
            let secretFile = try ws.write("s3-secret", server.secretAccessKey + "\n")
            let passphraseFile = try ws.write("passphrase", LogicalExportTests.passphraseMarker + "\n")
            cluster = PostgresCluster(workspace: ws, name: "pgdata")
            config = try ws.config(
                stores: [store],
                extra: """
                    conninfo = "host=\(ws.path) port=\(cluster.port) user=postgres dbname=postgres"
                    spool = "\(try ws.mkdir("spool"))"
                    [encryption]
                    passphrase_file = "\(passphraseFile)"
                    [history]
                    conninfo = "host=\(ws.path) port=\(cluster.port) user=postgres dbname=postgres"
                    project_id = "exports"
                    journal = "\(ws.file("journal/history.jsonl"))"
                    """,
                storeSections: """
                    [[stores]]
                    name = "local"
                    type = "local"
                    path = "\(store)"

                    \(server.storeSection(prefix: prefix, keyFile: keyFile, secretFile: secretFile))
                    \(extraStores)
                    """)
            try cluster.initdb(settings: [:])
            try ws.giveToPostgres()
            for secret in ["passphrase", "s3-key-id", "s3-secret", "walvault.toml"] { chmod(ws.file(secret), 0o600) }
            try cluster.start()
        }

        func walvault(_ arguments: [String], config: String? = nil) throws -> ProcessResult {
            let result = try ws.walvault(["--config", config ?? self.config] + arguments, asPostgres: true)
            for secret in [LogicalExportTests.passphraseMarker, server.secretAccessKey] {
                #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "a secret in the output of \(arguments)")
            }
            return result
        }

        /// Per table of the schema: its row count and the md5 of its rows in order.
        func fingerprint(_ schema: String) throws -> [String: String] {
            let tables = try cluster.sql("SELECT tablename FROM pg_tables WHERE schemaname = '\(schema)' ORDER BY 1").split(separator: "\n").map(
                String.init)
            var result: [String: String] = [:]
            for table in tables {
                result[table] = try cluster.sql(
                    "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM \(schema).\(table) t")
            }
            return result
        }

        /// Objects under the cluster's dump directory of the local store, temporary ones included.
        func localDumpFiles() -> [String] {
            filesRecursively(store).filter { $0.contains("/dump/") }.map { store + "/" + $0 }
        }
    }

    static let tenantSQL = """
        CREATE SCHEMA tenant_SLUG;
        CREATE SEQUENCE tenant_SLUG.invoice_numbers START 1000;
        CREATE TABLE tenant_SLUG.customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE);
        CREATE TABLE tenant_SLUG.orders (id bigserial PRIMARY KEY, customer_id int REFERENCES tenant_SLUG.customers(id),
            invoice bigint DEFAULT nextval('tenant_SLUG.invoice_numbers'), total numeric(10,2), placed_at timestamptz, note text);
        CREATE INDEX orders_placed ON tenant_SLUG.orders (placed_at);
        INSERT INTO tenant_SLUG.customers (name, email) SELECT 'customer ' || g, 'c' || g || '@SLUG.example' FROM generate_series(1, 500) g;
        INSERT INTO tenant_SLUG.orders (customer_id, total, placed_at, note)
            SELECT 1 + g % 500, (g % 997) / 7.0, '2026-01-01'::timestamptz + g * interval '1 minute', 'note ' || g || E' \\\\ "quoted" ünïcode'
            FROM generate_series(1, ROWS) g;
        CREATE VIEW tenant_SLUG.big_orders AS SELECT * FROM tenant_SLUG.orders WHERE total > 100;
        CREATE FUNCTION tenant_SLUG.order_count(c int) RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM tenant_SLUG.orders WHERE customer_id = c';
        """

    func makeTenant(_ rig: Rig, _ slug: String, rows: Int) throws {
        try rig.cluster.sql(Self.tenantSQL.replacingOccurrences(of: "SLUG", with: slug).replacingOccurrences(of: "ROWS", with: "\(rows)"))
    }

    @Test func aTenantRoundTripsThroughS3AloneAndReplaceKeepsTheOldSchemaAside() throws {
        let rig = try Rig()
        #expect(try rig.walvault(["migrate"]).status == 0)
        try makeTenant(rig, "acme", rows: 20_000)
        try makeTenant(rig, "beta", rows: 3_000)
        let acme = try rig.fingerprint("tenant_acme")
        let beta = try rig.fingerprint("tenant_beta")
        #expect(acme.count == 2 && beta.count == 2)

        let dump = try rig.walvault(["dump", "--schema", "tenant_acme", "--json"])
        #expect(dump.status == 0, "\(dump.stderr)")
        let results = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [[String: Any]])
        let id = try #require(results.first?["id"] as? String)
        let stored = try #require(results.first?["stored"] as? [String: Int])
        #expect(Set(stored.keys) == ["local", "cloud"])
        #expect(id.hasPrefix("tenant_acme/"))
        // Encrypted at rest: the local object is not pg_dump's archive.
        let object = try #require(rig.localDumpFiles().first)
        #expect(!fileStarts(object, with: "PGDMP"))
        #expect(rig.localDumpFiles().count == 1)

        let list = try rig.walvault(["dump", "list"])
        #expect(list.status == 0 && list.stdout.contains(id) && list.stdout.contains("cloud: ") && list.stdout.contains("local: "), "\(list.stdout)")

        try rig.cluster.sql("DROP SCHEMA tenant_acme CASCADE")
        let restored = try rig.walvault(["dump", "restore", "--id", id, "--store", "cloud", "--into-schema", "tenant_acme_restored"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("from store \"cloud\" into schema tenant_acme_restored"), "\(restored.stdout)")
        #expect(try rig.fingerprint("tenant_acme_restored") == acme)
        // The view and the sequences came back and work under the new name; a function whose
        // text names its schema still names the old one, and the restore says so.
        #expect(restored.stderr.contains("function order_count names schema tenant_acme in its text"), "\(restored.stderr)")
        #expect(try Int(rig.cluster.sql("SELECT count(*) FROM tenant_acme_restored.big_orders")) ?? 0 > 0)
        #expect(try Int(rig.cluster.sql("SELECT nextval('tenant_acme_restored.invoice_numbers')")) ?? 0 > 20_000)
        #expect(
            try rig.cluster.sql("SELECT count(*) FROM pg_indexes WHERE schemaname = 'tenant_acme_restored' AND indexname = 'orders_placed'") == "1")
        #expect(try rig.fingerprint("tenant_beta") == beta)

        // Into a schema that exists: refused without --replace, nothing changed.
        let again = try rig.walvault(["dump", "restore", "--id", id, "--into-schema", "tenant_acme_restored"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("schema tenant_acme_restored already exists") && again.stderr.contains("--replace"), "\(again.stderr)")
        #expect(again.stderr.split(separator: "\n").count == 1)

        // Back under its own name, changed, then replaced: the changed one is kept aside.
        let home = try rig.walvault(["dump", "restore", "--id", id, "--into-schema", "tenant_acme"])
        #expect(home.status == 0 && !home.stderr.contains("names schema"), "\(home.stderr)")
        #expect(try rig.cluster.sql("SELECT tenant_acme.order_count(7)") == "40")
        try rig.cluster.sql("INSERT INTO tenant_acme.orders (customer_id, total, note) SELECT 1, 1, 'after the dump' FROM generate_series(1, 25)")
        let replaced = try rig.walvault(["dump", "restore", "--id", id, "--replace"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(replaced.stdout.contains("replacing schema tenant_acme (2 tables: customers 500 rows, orders 20025 rows)"), "\(replaced.stdout)")
        let aside = try rig.cluster.sql("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_acme\\_before\\_restore\\_%'")
        #expect(!aside.isEmpty && replaced.stdout.contains("kept as \(aside)"))
        #expect(try rig.cluster.sql("SELECT count(*) FROM \(aside).orders") == "20025")
        #expect(try rig.fingerprint("tenant_acme") == acme)
        #expect(try rig.fingerprint("tenant_beta") == beta)

        // The history: one row per store for the dump, with its schema, checksum and handle.
        let rows = try rig.cluster.sql(
            "SELECT type || ' ' || operation || ' ' || store_name || ' ' || schema_name || ' ' || object_name || ' ' || length(sha256) || ' ' || (file_id IS NOT NULL) FROM control_plane.backups WHERE operation = 'dump' ORDER BY store_name"
        )
        #expect(rows == "database dump cloud tenant_acme \(id) 64 true\ndatabase dump local tenant_acme \(id) 64 true", "\(rows)")
        #expect(try rig.cluster.sql("SELECT count(*) FROM control_plane.backups WHERE operation = 'dump-restore' AND status = 'succeeded'") == "3")
        #expect(try rig.cluster.sql("SELECT count(*) FROM control_plane.backups WHERE operation = 'dump-restore' AND status = 'failed'") == "1")
        let history = try rig.cluster.sql("SELECT string_agg(t::text, ' ') FROM control_plane.backups t")
        #expect(!history.contains(Self.passphraseMarker) && !history.contains(rig.server.secretAccessKey))

        // --all-tenants: one dump per tenant_ schema, each reported; the copies restores left
        // (tenant_acme_restored, tenant_acme_before_restore_…) are not tenants (issue 24).
        let all = try rig.walvault(["dump", "--all-tenants", "--format", "plain"])
        #expect(all.status == 0, "\(all.stderr)")
        #expect(
            all.stdout.contains("dumped schema tenant_acme ") && all.stdout.contains("dumped schema tenant_beta ")
                && all.stdout.contains("2 of 2 schemas dumped"), "\(all.stdout)")
    }

    @Test func badInputAndFailuresAreOneLineAndLeaveNothingUnderAFinalName() throws {
        let rig = try Rig()
        #expect(try rig.walvault(["migrate"]).status == 0)
        try makeTenant(rig, "acme", rows: 5_000)
        try rig.cluster.sql("CREATE TABLE public.x (id int); INSERT INTO public.x VALUES (1)")
        func oneLine(_ result: ProcessResult, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(result.status == 1, "\(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stderr.contains(text), "\(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)", sourceLocation: sourceLocation)
        }

        for name in [
            "tenant_a; drop table x", "tenant_acme'", "tenant_\"acme\"", "tenant_\u{0430}cme", String(repeating: "t", count: 64), "Tenant_Acme"
        ] {
            oneLine(try rig.walvault(["dump", "--schema", name]), "--schema ")
            oneLine(try rig.walvault(["export-logs", "--table", name]), "--table ")
            oneLine(try rig.walvault(["export-logs", "--time-column", name]), "--time-column ")
            oneLine(try rig.walvault(["dump", "restore", "--id", "tenant_acme/x", "--into-schema", name]), "--into-schema ")
        }
        #expect(try rig.cluster.sql("SELECT count(*) FROM public.x") == "1")
        oneLine(try rig.walvault(["dump", "--schema", "tenant_nope"]), "schema tenant_nope does not exist in database postgres")
        oneLine(try rig.walvault(["dump", "--schema", "tenant_acme", "--database", "nope"]), "database \"nope\" does not exist")
        oneLine(
            try rig.walvault(["dump", "restore", "--id", "tenant_acme/20260101T000000000000Z"]),
            "no dump tenant_acme/20260101T000000000000Z in the stores")
        oneLine(try rig.walvault(["export-logs", "--table", "nope"]), "table nope does not exist in database postgres")

        // pg_dump missing, or of another major version.
        let empty = try rig.ws.mkdir("bin-empty")
        oneLine(
            try rig.walvault(["dump", "--schema", "tenant_acme", "--postgres-bin", empty]),
            "pg_dump of PostgreSQL 15 (the server's version) is not installed in --postgres-bin")
        let old = try rig.ws.mkdir("bin-14")
        let fake = try rig.ws.write("bin-14/pg_dump", "#!/bin/sh\necho 'pg_dump (PostgreSQL) 14.11'\n")
        chmod(fake, 0o755)
        oneLine(try rig.walvault(["dump", "--schema", "tenant_acme", "--postgres-bin", old]), "is PostgreSQL 14")

        // A server that refuses the connection.
        let refused = try rig.ws.write(
            "refused.toml",
            try String(contentsOfFile: rig.config, encoding: .utf8)
                .replacingOccurrences(
                    of: "conninfo = \"host=\(rig.ws.path) port=\(rig.cluster.port) user=postgres dbname=postgres\"\nspool",
                    with: "conninfo = \"host=\(rig.ws.path) port=\(Fixture.freePort()) user=postgres dbname=postgres\"\nspool"))
        try rig.ws.giveToPostgres()
        chmod(refused, 0o600)
        oneLine(try rig.walvault(["dump", "--schema", "tenant_acme"], config: refused), "cannot connect to the database")
        oneLine(try rig.walvault(["export-logs"], config: refused), "cannot connect to the database")

        // pg_dump that fails half-way, and one killed half-way: what it wrote is thrown away.
        let real = Fixture.postgresBin
        let broken = try rig.ws.mkdir("bin-broken")
        chmod(
            try rig.ws.write(
                "bin-broken/pg_dump",
                """
                #!/bin/sh
                [ "$1" = "--version" ] && exec \(real)/pg_dump --version
                \(real)/pg_dump "$@" | head -c 30000
                echo "pg_dump: error: simulated failure half-way" >&2
                exit 1
                """), 0o755)
        let killed = try rig.ws.mkdir("bin-killed")
        chmod(
            try rig.ws.write(
                "bin-killed/pg_dump",
                """
                #!/bin/sh
                [ "$1" = "--version" ] && exec \(real)/pg_dump --version
                \(real)/pg_dump "$@" | head -c 30000
                kill -9 $$
                """), 0o755)
        try rig.ws.giveToPostgres()
        oneLine(
            try rig.walvault(["dump", "--schema", "tenant_acme", "--format", "plain", "--postgres-bin", broken]),
            "pg_dump of schema tenant_acme failed (exit status 1): pg_dump: error: simulated failure half-way")
        oneLine(
            try rig.walvault(["dump", "--schema", "tenant_acme", "--postgres-bin", killed]), "pg_dump of schema tenant_acme was killed by signal 9")
        #expect(rig.localDumpFiles().isEmpty, "nothing stored, not even a temporary file: \(rig.localDumpFiles())")
        let list = try rig.walvault(["dump", "list", "--json"])
        #expect(
            list.status == 0 && (try? JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [Any])?.isEmpty == true,
            "neither store lists a dump: \(list.stdout) \(list.stderr)")

        // A good dump; then a pg_restore that fails half-way: psql is stopped before it commits.
        let dump = try rig.walvault(["dump", "--schema", "tenant_acme"])
        #expect(dump.status == 0, "\(dump.stderr)")
        let id = try #require(dump.stdout.split(separator: " ").first { $0.hasPrefix("tenant_acme/") }.map { String($0.dropLast()) })
        oneLine(
            try rig.walvault(["dump", "restore", "--id", id, "--postgres-bin", empty]),
            "pg_restore of PostgreSQL 15 (the server's version) is not installed in --postgres-bin")
        // A --postgres-bin where `failing` is a script that runs `body` (after answering --version
        // as the real one) and `other` is the real program; then the restore's one line, and
        // nothing committed: no half-restored schema, the original untouched.
        func restoreFails(_ failing: String, other: String, body: String, says message: String) throws {
            let bin = try rig.ws.mkdir("bin-failing-\(failing)")
            chmod(
                try rig.ws.write(
                    "bin-failing-\(failing)/\(failing)", "#!/bin/sh\n[ \"$1\" = \"--version\" ] && exec \(real)/\(failing) --version\n\(body)\n"),
                0o755)
            try FileManager.default.createSymbolicLink(atPath: bin + "/" + other, withDestinationPath: real + "/" + other)
            try rig.ws.giveToPostgres()
            oneLine(try rig.walvault(["dump", "restore", "--id", id, "--postgres-bin", bin]), message)
            #expect(
                try rig.cluster.sql(
                    "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant\\_acme\\_%' OR nspname LIKE 'walvault\\_hold\\_%'") == "0",
                "no half-restored schema")
            #expect(try rig.cluster.sql("SELECT count(*) FROM tenant_acme.orders") == "5000")
        }
        try restoreFails(
            "pg_restore", other: "psql",
            body: "\(real)/pg_restore \"$@\" | head -c 6000\necho \"pg_restore: error: simulated failure\" >&2\nexit 1",
            says: "pg_restore failed (exit status 1): pg_restore: error: simulated failure")
        // psql stopping on an error part-way: pg_restore's output breaks, and psql's error is the
        // one reported.
        try restoreFails(
            "psql", other: "pg_restore",
            body: "head -c 3000 >/dev/null\necho \"psql:<stdin>:12: ERROR:  simulated failure\" >&2\nexit 3",
            says: "psql failed (exit status 3): psql:<stdin>:12: ERROR:  simulated failure")

        // A damaged copy is never restored: it fails its check, and the other store's copy is used.
        let object = try #require(rig.localDumpFiles().first)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: object)))
        bytes[bytes.count / 2] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: object))
        oneLine(try rig.walvault(["dump", "restore", "--id", id, "--store", "local"]), "no store gave dump \(id) intact")
        let verify = try rig.walvault(["verify"])
        let damaged = verify.stdout.split(separator: "\n").filter { $0.contains("/dump/tenant_acme/") }
        #expect(
            verify.status == 1 && damaged.count == 1 && damaged[0].hasPrefix("FAIL store \"local\"") && damaged[0].contains("cannot decrypt"),
            "\(verify.stdout)")
        let fromCloud = try rig.walvault(["dump", "restore", "--id", id])
        #expect(fromCloud.status == 0, "\(fromCloud.stderr)")
        #expect(fromCloud.stderr.contains("warning") && fromCloud.stdout.contains("from store \"cloud\""), "\(fromCloud.stdout) \(fromCloud.stderr)")

        // A full store: tmpfs of 256 KiB as a third sync store (root only).
        if getuid() == 0 {
            let full = try rig.ws.mkdir("full")
            guard mount("tmpfs", full, "tmpfs", 0, "size=262144,mode=0777") == 0 else { throw TestFailure("mount tmpfs: \(errno)") }
            defer { umount(full) }
            let fullConfig = try rig.ws.write(
                "full.toml",
                try String(contentsOfFile: rig.config, encoding: .utf8)
                    + "\n[[stores]]\nname = \"small\"\ntype = \"local\"\npath = \"\(full)\"\n")
            try rig.ws.giveToPostgres()
            chmod(fullConfig, 0o600)
            let before = rig.localDumpFiles()
            oneLine(try rig.walvault(["dump", "--schema", "tenant_acme", "--format", "plain", "--compression", "none"], config: fullConfig), "small")
            #expect(filesRecursively(full).filter { $0.contains("dump/") }.isEmpty, "\(filesRecursively(full))")
            #expect(rig.localDumpFiles() == before, "the other stores hold nothing new")
        }
    }

    @Test func aMillionLogRowsExportInBoundedMemoryAndDeleteExactlyTheExportedRange() throws {
        let rig = try Rig()
        #expect(try rig.walvault(["migrate"]).status == 0)
        try rig.cluster.sql(
            """
            CREATE TABLE project_logs (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, level text, message text, context jsonb);
            INSERT INTO project_logs (created_at, level, message, context)
                SELECT '2026-11-01'::timestamptz + g * interval '1 second', (ARRAY['info','warn','error'])[1 + g % 3],
                       'request ' || g || E' took "' || (g % 977) || E'" ms \\\\ path=/api/v1/items?id=' || g || E'\\n' || 'ünïcode ✓',
                       jsonb_build_object('request_id', md5(g::text), 'status', 200 + g % 5, 'tags', jsonb_build_array('a', g % 10))
                FROM generate_series(1, 1000000) g;
            CREATE INDEX ON project_logs (created_at);
            """)
        let until = "2026-11-13 00:00:00+00"
        let (result, peakKiB) = try runMeasuringPeakRSS(rig.ws.walvault, ["--config", rig.config, "export-logs", "--until", until, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(peakKiB < 64 * 1024, "peak RSS \(peakKiB) KiB")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["rows"] as? Int == 1_000_000)
        let sha = try #require(report["sha256"] as? String)
        // The stored bytes are PostgreSQL's own row_to_json lines, every one, in time order.
        let expected = try rig.cluster.sql(
            """
            SET TimeZone = 'UTC';
            SELECT encode(sha256(convert_to(string_agg(row_to_json(t)::text || E'\\n', '' ORDER BY created_at), 'UTF8')), 'hex') FROM project_logs t
            """)
        #expect(sha == expected)
        let object =
            rig.store + "/" + (try #require(filesRecursively(rig.store).first { $0.contains("/logs/project_logs/") && $0.hasSuffix(".jsonl.zst") }))
        let out = rig.ws.file("logs.jsonl")
        let decrypted = try rig.walvault(["decrypt", "--in", object, "--out", out])
        #expect(decrypted.status == 0, "\(decrypted.stderr)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.split(separator: "\n", omittingEmptySubsequences: false).count == 1_000_001)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(text.prefix { $0 != "\n" }.utf8)) as? [String: Any])
        #expect(first["id"] as? Int == 1 && (first["message"] as? String)?.hasSuffix("\nünïcode ✓") == true)

        // --delete-exported on one day: exactly its rows go, the neighbours stay.
        let count = { (condition: String) in try rig.cluster.sql("SELECT count(*) FROM project_logs WHERE \(condition)") }
        let inRange = try count("created_at >= '2026-11-03 00:00:00+00' AND created_at < '2026-11-04 00:00:00+00'")
        #expect(inRange == "86400")
        let deleted = try rig.walvault([
            "export-logs", "--since", "2026-11-03 00:00:00+00", "--until", "2026-11-04 00:00:00+00", "--delete-exported", "--format", "csv"
        ])
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(deleted.stdout.contains("exported 86400 rows") && deleted.stdout.contains("deleted the 86400 exported rows"), "\(deleted.stdout)")
        #expect(try count("created_at >= '2026-11-03 00:00:00+00' AND created_at < '2026-11-04 00:00:00+00'") == "0")
        #expect(try count("true") == "\(1_000_000 - 86_400)")
        #expect(try count("created_at = '2026-11-02 23:59:59+00' OR created_at = '2026-11-04 00:00:00+00'") == "2")
        let csv = rig.store + "/" + (try #require(filesRecursively(rig.store).first { $0.hasSuffix(".csv.zst") }))
        let csvOut = rig.ws.file("logs.csv")
        #expect(try rig.walvault(["decrypt", "--in", csv, "--out", csvOut]).status == 0)
        let csvText = try String(contentsOfFile: csvOut, encoding: .utf8)
        #expect(csvText.hasPrefix("id,created_at,level,message,context\n"))

        // The history: rows, range and deletions.
        let again = try rig.walvault(["export-logs", "--since", "2026-11-05 00:00:00+00", "--until", "2026-11-05 01:00:00+00", "--delete-exported"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(
            try rig.cluster.sql(
                "SELECT DISTINCT type || ' ' || row_count || ' ' || rows_deleted || ' ' || (range_end - range_start) FROM control_plane.backups WHERE operation = 'export-logs' AND row_count = 3600"
            ) == "logs 3600 3600 01:00:00")
        #expect(
            try rig.cluster.sql(
                "SELECT count(*) FROM control_plane.backups WHERE operation = 'export-logs' AND row_count = 1000000 AND rows_deleted IS NULL AND range_start IS NULL"
            ) == "2")
    }
}

/// Runs a program as the postgres user and reports its peak resident set size (KiB), by GNU
/// time. Not by wait4 here: posix_spawn starts the child in this process's memory (vfork), and
/// the kernel carries that high-water mark (this test runner's, 100 MB and more) into the
/// child's maxrss at exec; time's own child is forked from a small process.
func runMeasuringPeakRSS(_ executable: String, _ arguments: [String]) throws -> (ProcessResult, Int) {
    let report = NSTemporaryDirectory() + "walvault-rss-" + UUID().uuidString
    defer { try? FileManager.default.removeItem(atPath: report) }
    let command = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", executable] : [executable]
    let result = try run("/usr/bin/time", ["-f", "%M", "-o", report] + command + arguments)
    let text = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
    guard let kib = text.split(separator: "\n").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
        throw TestFailure("GNU time reported no peak RSS (\(text)); install it: apt-get install time")
    }
    return (result, kib)
}
