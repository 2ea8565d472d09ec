import Testing
import WalvaultConfig
import WalvaultHistory
import WalvaultPipeline
import WalvaultPostgres
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultCatalog
@testable import WalvaultExports
@testable import WalvaultKit
@testable import WalvaultMaintenance
@testable import WalvaultRepository
@testable import WalvaultService
@testable import WalvaultShipping

/// Issue 15's pure parts: which names reach SQL, export object names, what expire does with
/// dumps, how a restore renames schemas, and the history rows of shipped exports.
@Suite struct SQLIdentifierTests {
    @Test(arguments: ["tenant_acme", "_x", "a", "project_logs", "t1_2", String(repeating: "a", count: 63)])
    func plainLowerCaseNamesPass(name: String) {
        #expect(SQLIdentifier.isValid(name))
    }

    @Test(arguments: [
        "tenant_a; drop table x", "tenant_a'", "tenant_a\"", "tenant a", "Tenant_acme", "1tenant", "", "tenant-acme",
        "tenant_\u{0430}cme",  // Cyrillic а, looks like a Latin a
        "tenant_acme\u{200B}",  // zero-width space
        "tenant_ａcme",  // full-width a
        String(repeating: "a", count: 64), "tenant_a\n", "tenant.acme", "tenant_a\\"
    ])
    func anythingElseIsRefused(name: String) {
        #expect(!SQLIdentifier.isValid(name))
        #expect(throws: CatalogError.self) { try SQLIdentifier.check(name, what: "schema", option: "--schema") }
    }

    @Test func theRefusalNamesTheOptionAndShowsTheNameSafely() throws {
        let error = try #require(throws: CatalogError.self) { try SQLIdentifier.check("tenant_\u{0430}'\n", what: "schema", option: "--schema") }
        #expect(error.problem.hasPrefix("--schema 'tenant_\\u{430}\\u{27}\\u{a}'"))
        #expect(error.errorCode == "input.invalid")
        let long = try #require(throws: CatalogError.self) {
            try SQLIdentifier.check(String(repeating: "x", count: 70), what: "table", option: "--table")
        }
        #expect(long.problem.hasSuffix("is 70 bytes long (PostgreSQL keeps 63)"))
    }
}

@Suite struct ExportObjectNameTests {
    let sha = String(repeating: "ab", count: 32)
    let time: Int64 = 1_795_000_000_123_456

    @Test(arguments: [(ExportFormat.custom, CompressionAlgorithm.none), (.plain, .zstd), (.jsonl, .zstd), (.csv, .gzip), (.jsonl, .lz4)])
    func namesRoundTrip(format: ExportFormat, compression: CompressionAlgorithm) throws {
        let name = ExportObjectName(time: time, sha256: sha, format: format, compression: compression)
        #expect(name.description.hasPrefix(StoredObjectName.stamp(time) + "-" + sha))
        let parsed = try #require(ExportObjectName(name.description))
        #expect(parsed == name)
        #expect(StoredObjectName(name.description) == nil || format == .custom, "not mistaken for a WAL object")
    }

    @Test(arguments: [
        "20261124T110447123456Z-abc.dump", "x-\(String(repeating: "a", count: 64)).dump",
        "20261124T110447123456Z-\(String(repeating: "A", count: 64)).dump",
        "20261124T110447123456Z-\(String(repeating: "a", count: 64)).txt",
        "20261124T110447123456Z-\(String(repeating: "a", count: 64))"
    ])
    func otherNamesAreNotExports(name: String) {
        #expect(ExportObjectName(name) == nil)
    }
}

@Suite struct DumpExpiryTests {
    static let day: Int64 = 86_400_000_000
    static let now: Int64 = 1_795_000_000_000_000
    func dump(_ schema: String, daysAgo: Double) -> DumpExpiry.Dump {
        let time = Self.now - Int64(daysAgo * Double(Self.day))
        return DumpExpiry.Dump(schema: schema, id: "\(schema)/\(time)", time: time)
    }

    @Test func oldDumpsGoButTheNewestOfEachSchemaStays() {
        let a1 = dump("tenant_a", daysAgo: 45), a2 = dump("tenant_a", daysAgo: 31), a3 = dump("tenant_a", daysAgo: 2)
        let b1 = dump("tenant_b", daysAgo: 60), b2 = dump("tenant_b", daysAgo: 40)
        let decisions = DumpExpiry.plan([a3, b1, a1, b2, a2], days: 30, now: Self.now)
        #expect(Set(decisions.filter(\.keep).map(\.dump)) == [a3, b2])
        #expect(Set(decisions.filter { !$0.keep }.map(\.dump)) == [a1, a2, b1])
        #expect(decisions.first { $0.dump == b2 }?.reason == "the newest dump of tenant_b, kept whatever its age")
        #expect(decisions.first { $0.dump == a1 }?.reason == "older than 30 days, and a newer dump of tenant_a exists")
    }

    @Test func everyDumpInsideTheWindowStays() {
        let dumps = (0..<5).map { dump("tenant_a", daysAgo: Double($0) * 7) }
        #expect(DumpExpiry.plan(dumps, days: 30, now: Self.now).allSatisfy { $0.keep })
        #expect(DumpExpiry.plan([], days: 30, now: Self.now).isEmpty)
    }

    @Test func theWindowEdgeIsKept() {
        let edge = dump("tenant_a", daysAgo: 30), newer = dump("tenant_a", daysAgo: 1)
        #expect(DumpExpiry.plan([edge, newer], days: 30, now: Self.now).allSatisfy { $0.keep })
    }

    @Test func dueIsTheWindowAfterTheDumpExceptForTheNewest() {
        let old = dump("tenant_a", daysAgo: 10), newest = dump("tenant_a", daysAgo: 1), only = dump("tenant_b", daysAgo: 3)
        let due = DumpExpiry.due([old, newest, only], days: 30)
        #expect(due == [old.id: old.time + 30 * Self.day])
    }
}

@Suite struct SchemaRestorePlanTests {
    func plan(_ dump: String, into: String?, replace: Bool, existing: Set<String>) -> Result<SchemaRestorePlan, SchemaRestorePlan.Refusal> {
        SchemaRestorePlan.make(
            dumpSchema: dump, into: into, replace: replace, exists: existing.contains, stamp: "20261124_120000", holdName: "walvault_hold_1")
    }

    @Test func byDefaultANewSchemaWithTheLiveOneHeldAsideDuringTheTransaction() throws {
        let p = try plan("tenant_acme", into: nil, replace: false, existing: ["tenant_acme"]).get()
        #expect(p.target == "tenant_acme_restored")
        #expect(p.aside == nil)
        #expect(p.before == ["ALTER SCHEMA tenant_acme RENAME TO walvault_hold_1"])
        #expect(p.after == ["ALTER SCHEMA tenant_acme RENAME TO tenant_acme_restored", "ALTER SCHEMA walvault_hold_1 RENAME TO tenant_acme"])
    }

    @Test func aDroppedSchemaNeedsNoHolding() throws {
        let p = try plan("tenant_acme", into: "tenant_copy", replace: false, existing: []).get()
        #expect(p.before.isEmpty)
        #expect(p.after == ["ALTER SCHEMA tenant_acme RENAME TO tenant_copy"])
        let same = try plan("tenant_acme", into: "tenant_acme", replace: false, existing: []).get()
        #expect(same.before.isEmpty && same.after.isEmpty)
    }

    @Test func anExistingTargetIsRefusedWithoutReplace() {
        guard case .failure(let refusal) = plan("tenant_acme", into: nil, replace: false, existing: ["tenant_acme", "tenant_acme_restored"]) else {
            Issue.record("restoring over an existing schema without --replace was planned")
            return
        }
        #expect(refusal.problem == "schema tenant_acme_restored already exists")
        #expect(refusal.fix.hasPrefix("restore into another schema with --into-schema"))
    }

    @Test func replaceKeepsTheOldSchemaAsideAndNeverDropsIt() throws {
        let p = try plan("tenant_acme", into: nil, replace: true, existing: ["tenant_acme"]).get()
        #expect(p.target == "tenant_acme")
        #expect(p.aside == "tenant_acme_before_restore_20261124_120000")
        #expect(p.before == ["ALTER SCHEMA tenant_acme RENAME TO tenant_acme_before_restore_20261124_120000"])
        #expect(p.after.isEmpty)
        #expect(!(p.before + p.after).contains { $0.hasPrefix("DROP") })
    }

    @Test func replacingAnotherSchemaAlsoHoldsTheLiveOne() throws {
        let p = try plan("tenant_acme", into: "tenant_copy", replace: true, existing: ["tenant_acme", "tenant_copy"]).get()
        #expect(
            p.before == [
                "ALTER SCHEMA tenant_copy RENAME TO tenant_copy_before_restore_20261124_120000", "ALTER SCHEMA tenant_acme RENAME TO walvault_hold_1"
            ])
        #expect(p.after == ["ALTER SCHEMA tenant_acme RENAME TO tenant_copy", "ALTER SCHEMA walvault_hold_1 RENAME TO tenant_acme"])
    }

    @Test func aLongNameIsCutSoTheAsideNameFits() throws {
        let long = "tenant_" + String(repeating: "x", count: 56)
        let p = try plan(long, into: nil, replace: true, existing: [long]).get()
        #expect(p.aside!.utf8.count == 63)
        #expect(p.aside!.hasSuffix("_before_restore_20261124_120000"))
        #expect(SQLIdentifier.isValid(p.aside!))
    }

    @Test func aTakenAsideNameOrATooLongDefaultIsRefused() {
        if case .success = plan("tenant_acme", into: nil, replace: true, existing: ["tenant_acme", "tenant_acme_before_restore_20261124_120000"]) {
            Issue.record("an aside name that exists was planned")
        }
        if case .success = plan("tenant_" + String(repeating: "x", count: 54), into: nil, replace: false, existing: []) {
            Issue.record("a default name over 63 bytes was planned")
        }
    }
}

@Suite struct PostgresProgramsTests {
    @Test func theMajorVersionComesFromVersionOutput() {
        #expect(PostgresPrograms.parseMajor("pg_dump (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)") == 15)
        #expect(PostgresPrograms.parseMajor("psql (PostgreSQL) 17.2") == 17)
        #expect(PostgresPrograms.parseMajor("pg_dump 15") == nil)
        #expect(PostgresPrograms.parseMajor("") == nil)
    }

    /// A password goes to PostgreSQL's programs in PGPASSWORD, never on their command line, and
    /// a conninfo libpq cannot parse is refused without being shown.
    @Test func theConnectionGoesThroughTheEnvironment() throws {
        let marker = "PW-MARKER-7731"
        let connection = try ConnectionString("host=/tmp port=5999 user=alice dbname=app password=\(marker)")
        let environment = connection.environment(database: "tenants")
        #expect(environment.contains("PGPASSWORD=\(marker)"))
        #expect(environment.contains("PGDATABASE=tenants"))
        #expect(!environment.contains("PGDATABASE=app"))
        #expect(environment.contains("PGHOST=/tmp") && environment.contains("PGPORT=5999") && environment.contains("PGUSER=alice"))
        #expect(connection.conninfo(database: "o'k").hasSuffix("dbname='o\\'k'"))
        let error = try #require(throws: PostgresError.self) { try ConnectionString("host=/tmp password='\(marker)") }
        #expect(!"\(error)".contains(marker))
    }
}

@Suite struct ExportHistoryTests {
    /// A dump shipped to an async store is a row of the dump: type database, its ID as object_name,
    /// its schema; a shipped log export is type logs.
    @Test func shippedExportsAreRowsOfTheirExport() {
        let rig = ShippingRig()
        let settings = HistorySettings(conninfo: "", projectID: "p", journal: "/j", retentionDays: 30)
        let sha = String(repeating: "c", count: 64)
        let rows = HistoryEvents.shippedRows(
            settings, context: rig.context,
            shipped: [
                Ship.Shipped(store: "telegram", key: "main/dump/tenant_acme/20261124T110447123456Z-\(sha).dump", size: 10, handle: "BQAC"),
                Ship.Shipped(store: "offsite", key: "main/logs/project_logs/20261124T110447123456Z-\(sha).jsonl.zst", size: 20, handle: nil)
            ], durationMs: 1)
        #expect(rows.count == 2)
        #expect(rows[0].type == .database && rows[0].objectName == "tenant_acme/20261124T110447123456Z" && rows[0].schemaName == "tenant_acme")
        #expect(rows[0].fileID == "BQAC" && rows[0].sha256 == sha)
        #expect(rows[1].type == .logs && rows[1].objectName == "project_logs/20261124T110447123456Z" && rows[1].schemaName == nil)
    }

    @Test func anExportsFactsReachItsRows() {
        let rig = ShippingRig()
        let settings = HistorySettings(conninfo: "", projectID: "p", journal: "/j", retentionDays: 30)
        var facts = OperationFacts(objectName: "project_logs/20261124T110447123456Z", size: 5, storedSize: 3, sha256: "d")
        facts.rowCount = 1_000_000
        facts.rangeStart = 1
        facts.rangeEnd = 2
        facts.rowsDeleted = 1_000_000
        let rows = HistoryEvents.rows(
            settings, context: rig.context,
            events: [
                .started(operation: "export-logs", type: .logs, subject: "project_logs"),
                .stored(store: "offsite", key: "k", facts: facts), .succeeded(nil)
            ], durationMs: 1)
        #expect(rows.count == 1)
        #expect(rows[0].type == .logs && rows[0].operation == "export-logs")
        #expect(rows[0].rowCount == 1_000_000 && rows[0].rangeStart == 1 && rows[0].rangeEnd == 2 && rows[0].rowsDeleted == 1_000_000)
    }
}

/// ExportWriter over real local stores: nothing under a final name until commit, then the object in
/// every sync store and a queue entry for the async one; expire deletes old dumps but the newest.
@Suite struct ExportStorageTests {
    @Test func anExportIsNamedOnlyAtCommitAndQueuedForTheAsyncStore() throws {
        let rig = ShippingRig()
        let layout = ArchiveLayout(cluster: "main")
        let bytes = [UInt8]((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let writer = try ExportWriter(
            context: rig.context, directory: layout.dumpDirectory("tenant_a"), time: 1_795_000_000_000_000,
            format: .plain, compression: .zstd, level: 3)
        try bytes.withUnsafeBytes { try writer.write($0) }
        #expect(try rig.context.stores[0].list(directory: layout.dumpDirectory("tenant_a"), namePrefix: "").isEmpty, "nothing visible before commit")
        let stored = try writer.commit()
        #expect(stored.size == bytes.count)
        #expect(stored.name.sha256 == SHA256Hasher.hex(of: bytes))
        #expect(stored.queuedFor == ["offsite"])
        let listed = try ExportListing.list(.dumps, stores: rig.context.stores, layout: layout)
        #expect(listed.map(\.id) == ["tenant_a/20261118T110640000000Z"])
        #expect(listed.first?.copies.map(\.store) == ["local"])
        let sink = MemorySink()
        _ = try ObjectFetcher.fetch(listed[0].copies[0].object, from: rig.context.stores[0], into: sink)
        #expect(sink.bytes == bytes)
        #expect(try ShippingQueue.open(spool: rig.spool, store: "offsite").entries().count == 1)

        let aborted = try ExportWriter(
            context: rig.context, directory: layout.dumpDirectory("tenant_b"), time: 1_795_000_000_000_001,
            format: .custom, compression: .none, level: 0)
        try bytes.withUnsafeBytes { try aborted.write($0) }
        aborted.abort()
        #expect(try ExportListing.list(.dumps, stores: rig.context.stores, layout: layout).count == 1)
        #expect(
            filesUnder(rig.sync).filter { $0.hasPrefix("main/dump/tenant_b") }.isEmpty, "an aborted export leaves no file, not even a temporary one")
    }

    @Test func expireDeletesOldDumpsButKeepsTheNewestOfEachSchema() throws {
        let base = ShippingRig()
        var config = base.context.config
        config.retention = RetentionSettings(days: 30)
        let context = WalvaultContext(config: config, stores: base.context.rawStores)
        let layout = ArchiveLayout(cluster: "main")
        let now = WallClock.nowMicros()
        let day: Int64 = 86_400_000_000
        for (schema, daysAgo) in [("tenant_a", 40), ("tenant_a", 35), ("tenant_a", 1), ("tenant_b", 90)] as [(String, Int64)] {
            let writer = try ExportWriter(
                context: context, directory: layout.dumpDirectory(schema), time: now - daysAgo * day, format: .custom, compression: .none, level: 0)
            try [UInt8](repeating: UInt8(daysAgo), count: 100).withUnsafeBytes { try writer.write($0) }
            _ = try writer.commit()
        }
        let report = try Expire(context: context).run(asOf: now)
        let local = try #require(report.stores.first { $0.store == "local" })
        #expect(local.delete.filter { $0.kind == "dump" }.count == 2)
        #expect(local.keep.filter { $0.kind == "dump" }.count == 2)
        #expect(report.text.contains("keep dump tenant_b/"))
        let left = try ExportListing.list(.dumps, stores: [context.stores[0]], layout: layout)
        #expect(left.map(\.subject) == ["tenant_a", "tenant_b"])
        #expect(left.first { $0.subject == "tenant_a" }!.name.time == now - day)
    }

    /// Issue 24, item 11: log exports go after [retention] logs_days, and not before; without the
    /// key they stay for ever. The planner decides from times alone.
    @Test func expireDeletesLogExportsOlderThanLogsDaysOnly() throws {
        let base = ShippingRig()
        let layout = ArchiveLayout(cluster: "main")
        let now = WallClock.nowMicros()
        let day: Int64 = 86_400_000_000
        for (table, daysAgo) in [("project_logs", 400), ("project_logs", 366), ("project_logs", 364), ("audit_logs", 10)] as [(String, Int64)] {
            let writer = try ExportWriter(
                context: base.context, directory: layout.logsDirectory(table), time: now - daysAgo * day, format: .jsonl, compression: .none, level: 0
            )
            try [UInt8](repeating: UInt8(daysAgo % 256), count: 100).withUnsafeBytes { try writer.write($0) }
            _ = try writer.commit()
        }
        var config = base.context.config
        config.retention = RetentionSettings(days: 30)
        let forever = try Expire(context: WalvaultContext(config: config, stores: base.context.rawStores)).run(asOf: now)
        #expect(forever.stores.allSatisfy { !$0.delete.contains { $0.kind == "log export" } })
        #expect(try ExportListing.list(.logs, stores: [base.context.stores[0]], layout: layout).count == 4)

        config.retention = RetentionSettings(days: 30, logsDays: 365)
        let context = WalvaultContext(config: config, stores: base.context.rawStores)
        let report = try Expire(context: context).run(asOf: now)
        let local = try #require(report.stores.first { $0.store == "local" })
        #expect(local.delete.filter { $0.kind == "log export" }.count == 2)
        #expect(local.keep.filter { $0.kind == "log export" }.count == 2)
        #expect(local.due.count >= 2)
        let left = try ExportListing.list(.logs, stores: [context.stores[0]], layout: layout)
        #expect(Set(left.map(\.name.time)) == [now - 364 * day, now - 10 * day])

        let plan = LogExportExpiry.plan([.init(id: "t/a", time: now - 2 * day), .init(id: "t/b", time: now - day)], days: 1, now: now)
        #expect(plan.map(\.keep) == [false, true])
    }

    @Test func logsDaysIsParsedAndCheckedInOneLine() throws {
        let head = "[cluster]\nname = \"m\"\n[[stores]]\nname=\"local\"\ntype=\"local\"\npath=\"/s\"\n"
        #expect(try ConfigLoader.parse(head + "[retention]\ndays = 30\nlogs_days = 365\n", path: "/c.toml").retention?.logsDays == 365)
        #expect(try ConfigLoader.parse(head + "[retention]\ndays = 30\n", path: "/c.toml").retention?.logsDays == nil)
        do {
            _ = try ConfigLoader.parse(head + "[retention]\ndays = 30\nlogs_days = 0\n", path: "/c.toml")
            Issue.record("expected a refusal")
        } catch let error as ConfigError {
            #expect(error.key == "retention.logs_days" && error.problem.contains("out of range"))
        }
    }
}
