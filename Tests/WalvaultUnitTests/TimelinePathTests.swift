import Testing
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultArchive
@testable import WalvaultBackup
@testable import WalvaultCatalog

/// Issue 24, item 1: the history PostgreSQL 15's `028_pitr_timelines.pl` makes. Recovery stopped
/// at a restore point on timeline 1 that it read from timeline 2's segment, then promoted to 3:
/// timeline 3's history names 2 as parent with a switch point below 2's own start.
@Suite struct TimelinePathTests {
    static let size = 16 << 20
    static let pitrTimelinesHistory = "1\t0/3018CB0\tno recovery target specified\n\n2\t0/3018C48\tat restore point \"rp\"\n"
    static let three = TimelineHistory(timeline: 3, text: pitrTimelinesHistory)!
    static let two = TimelineHistory(timeline: 2, text: "1\t0/3018CB0\tno recovery target specified\n")!

    @Test func postgresqlsOwnNonMonotonicHistoryParsesAndExtendsItsParent() {
        #expect(Self.three.ancestors.map(\.parent) == [1, 2])
        #expect(Self.three.extends(Self.two))
    }

    @Test func timelineTwoHoldsNoPointOfTimelineThreesPath() {
        #expect(
            Self.three.path == [
                .init(timeline: 1, begin: LSN(0), end: LSN("0/3018C48")),
                .init(timeline: 3, begin: LSN("0/3018C48")!, end: nil)
            ])
        #expect(Self.three.switchPoint(leaving: 1) == LSN("0/3018C48"))
        #expect(Self.three.switchPoint(leaving: 2) == nil)
        #expect(Self.three.switchPoint(leaving: 3) == nil)
        // An ordinary history keeps every leg.
        let ordinary = TimelineHistory(timeline: 3, text: "1\t0/3000000\tx\n2\t0/5000000\ty\n")!
        #expect(ordinary.path.map(\.timeline) == [1, 2, 3])
        #expect(ordinary.path.map(\.end) == [LSN("0/3000000"), LSN("0/5000000"), nil])
        // A later switch below two earlier ones hides both.
        let deep = TimelineHistory(timeline: 4, text: "1\t0/5000000\tx\n2\t0/6000000\ty\n3\t0/4000000\tz\n")!
        #expect(deep.path == [.init(timeline: 1, begin: LSN(0), end: LSN("0/4000000")), .init(timeline: 4, begin: LSN("0/4000000")!, end: nil)])
    }

    @Test func archivePushStoresTheHistoryAfterItsParent() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        _ = try ArchivePush(context: context).run(
            walPath: dir.write("a/00000002.history", Array("1\t0/3018CB0\tno recovery target specified\n".utf8)))
        let result = try ArchivePush(context: context).run(walPath: dir.write("b/00000003.history", Array(Self.pitrTimelinesHistory.utf8)))
        #expect(result.stored.count == 1)
    }

    func segments(_ timeline: UInt32, _ numbers: ClosedRange<UInt64>) -> [WALSegmentName: Int64] {
        archived(timeline, numbers)
    }

    @Test func restoreFromTimelineOneFollowsOneThenThree() throws {
        // The backup of 028: on timeline 1, consistent in segment 2.
        let backup = manifest("B", start: segmentStart(2), stop: segmentStart(2) + 0x100, stopTime: 25_000_000)
        var wal = segments(1, 1...3)
        wal.merge(segments(2, 3...3)) { a, _ in a }
        wal.merge(segments(3, 3...5)) { a, _ in a }
        let plan = try WALPlanner.plan(backup: backup, target: .latest, histories: [2: Self.two, 3: Self.three], archived: wal)
        #expect(plan.targetTimeline == 3)
        #expect(plan.timelines == [1, 3])
        #expect(
            plan.ranges.map { "\($0.first)-\($0.last)" } == [
                "000000010000000000000002-000000010000000000000002",
                "000000030000000000000003-000000030000000000000005"
            ])
        #expect(plan.followsNewestTimeline)
    }

    @Test func aBackupOnTimelineTwoCannotReachThree() throws {
        // Timeline 3 never reads timeline 2, so a backup taken on 2 stays on 2.
        let backup = manifest("B2", timeline: 2, start: segmentStart(3) + 0x20000, stop: segmentStart(3) + 0x30000, stopTime: 35_000_000)
        var wal = segments(2, 3...4)
        wal.merge(segments(3, 3...5)) { a, _ in a }
        let plan = try WALPlanner.plan(backup: backup, target: .latest, histories: [2: Self.two, 3: Self.three], archived: wal)
        #expect(plan.targetTimeline == 2)
        #expect(!plan.followsNewestTimeline)
    }

    @Test func verifyFindsNoGapAlongThePathAndOneWhenTimelineThreeIsMissing() {
        func name(_ t: UInt32, _ n: UInt64) -> String { WALSegmentName(timeline: t, segmentNumber: n, segmentSize: Self.size).description }
        let backup = ArchiveAudit.Backup(
            label: "B", timeline: 1, startLSN: LSN(UInt64(segmentStart(2))), stopLSN: LSN(segmentStart(2) + 0x100),
            stopTime: 100, parts: ["part-000001"])
        var files: [String: [String]] = [:]
        for n in UInt64(1)...3 { files[name(1, n)] = ["a\(n)"] }
        files[name(2, 3)] = ["b3"]
        for n in UInt64(3)...5 { files[name(3, n)] = ["c\(n)"] }
        let histories: [UInt32: TimelineHistory] = [2: Self.two, 3: Self.three]
        #expect(ArchiveAudit.gaps(in: .init(store: "s", walFiles: files, backups: [backup]), histories: histories, segmentSize: Self.size).isEmpty)
        files[name(3, 4)] = nil
        let found = ArchiveAudit.gaps(in: .init(store: "s", walFiles: files, backups: [backup]), histories: histories, segmentSize: Self.size).map(
            \.problem)
        #expect(found == ["gap: segment \(name(3, 4)) is missing; backup B cannot be replayed past it from this store"])
    }
}

/// Issue 24, items 8 and 11: PostgreSQL's own schemas and tables are never dumped, restored into
/// or exported; schemas a restore left behind are not tenants.
@Suite struct SystemSchemaTests {
    @Test(arguments: ["pg_catalog", "information_schema", "pg_toast", "pg_temp_3", "pg_toast_temp_1"])
    func systemSchemasAreRefusedInOneLine(schema: String) {
        #expect(SQLIdentifier.isSystemSchema(schema))
        for option in ["--schema", "--into-schema"] {
            do {
                _ = try SQLIdentifier.checkUserSchema(schema, option: option)
                Issue.record("expected a refusal of \(schema)")
            } catch {
                #expect("\(error)".contains("\(option) \(schema): \(schema) is a system schema of PostgreSQL"), "\(error)")
                #expect(!"\(error)".contains("\n"))
            }
        }
    }

    @Test func userSchemasAndTablesPass() throws {
        for name in ["tenant_acme", "public", "app_pg", "information"] {
            #expect(!SQLIdentifier.isSystemSchema(name))
            #expect(try SQLIdentifier.checkUserSchema(name, option: "--schema") == name)
        }
        #expect(try SQLIdentifier.checkUserTable("project_logs", option: "--table") == "project_logs")
        #expect(throws: CatalogError.self) { try SQLIdentifier.checkUserTable("pg_authid", option: "--table") }
        #expect(throws: CatalogError.self) { try SQLIdentifier.checkUserTable("pg_class", option: "--table") }
    }

    @Test func schemasLeftByARestoreAreNotTenants() {
        #expect(SchemaRestorePlan.isLeftByRestore("tenant_x_restored"))
        #expect(SchemaRestorePlan.isLeftByRestore("tenant_x_before_restore_20261204_101500"))
        #expect(!SchemaRestorePlan.isLeftByRestore("tenant_x"))
        #expect(!SchemaRestorePlan.isLeftByRestore("tenant_restoredness"))
        #expect(!SchemaRestorePlan.isLeftByRestore("tenant_before_restore_x"))
        // The names SchemaRestorePlan itself makes are recognised.
        if case .success(let plan) = SchemaRestorePlan.make(
            dumpSchema: "tenant_a", into: nil, replace: true, exists: { $0 == "tenant_a" },
            stamp: "20261204_101500", holdName: "walvault_hold_1")
        {
            #expect(plan.aside.map(SchemaRestorePlan.isLeftByRestore) == true)
        } else {
            Issue.record("expected a plan")
        }
    }
}
