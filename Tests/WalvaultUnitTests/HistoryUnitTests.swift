import Testing
import WalvaultCatalog
import WalvaultConfig
import WalvaultHistory
import WalvaultMigrations
import WalvaultPipeline
import WalvaultPostgres
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultArchive
@testable import WalvaultBackup
@testable import WalvaultDrill
@testable import WalvaultKit
@testable import WalvaultService

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct HistoryUnitTests {
    let base = "[cluster]\nname = \"m\"\n[[stores]]\nname=\"l\"\ntype=\"local\"\npath=\"/s\"\n"

    @Test func historySectionIsRead() throws {
        let config = try ConfigLoader.parse(
            base + "[history]\nconninfo = \"host=x\"\nproject_id = \"p\"\njournal = \"/j\"\nretention_days = 7\n", path: "/c")
        #expect(config.history == HistorySettings(conninfo: "host=x", projectID: "p", journal: "/j", retentionDays: 7))
        let defaults = try ConfigLoader.parse(base + "[history]\nconninfo = \"host=x\"\nproject_id = \"p\"\n", path: "/c")
        #expect(defaults.history?.journal == "/var/lib/walvault/journal")
        #expect(defaults.history?.retentionDays == 30)
        #expect(try ConfigLoader.parse(base, path: "/c").history == nil)
    }

    @Test(arguments: [
        ("[history]\nproject_id = \"p\"\n", "history.conninfo", "missing"),
        ("[history]\nconninfo = \"h\"\n", "history.project_id", "missing"),
        ("[history]\nconninfo = \"h\"\nproject_id = \"p\"\njournal = \"rel\"\n", "history.journal", "not an absolute path"),
        ("[history]\nconninfo = \"h\"\nproject_id = \"p\"\nretention_days = 0\n", "history.retention_days", "out of range"),
        ("[history]\nconninfo = \"h\"\nproject_id = \"p\"\nretention = 3\n", "history.retention", "unknown key")
    ])
    func historyMistakesNameTheirKey(extra: String, key: String, problem: String) {
        do {
            _ = try ConfigLoader.parse(base + extra, path: "/c")
            Issue.record("expected an error")
        } catch let error as ConfigError {
            #expect(error.key == key)
            #expect(error.problem.contains(problem))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func journalSkipsALineTornByACrash() throws {
        var a = HistoryRecord(projectID: "p", type: .wal, operation: "archive-push", status: .succeeded, retentionDays: 30)
        a.size = 16
        let b = HistoryRecord(projectID: "p", type: .database, operation: "backup", status: .failed, retentionDays: nil)
        let bytes = try a.jsonLine() + b.jsonLine() + Array(try a.jsonLine().prefix(20))
        #expect(HistoryJournal.records(in: bytes) == [a, b])
    }

    @Test func journalAppendsDurablyAndCreatesItsDirectory() throws {
        let dir = TempDir()
        let journal = HistoryJournal(path: Paths.join(dir.path, "deep/er/journal"))
        let record = HistoryRecord(projectID: "p", type: .wal, operation: "archive-push", status: .succeeded, retentionDays: 30)
        try journal.append(record)
        try journal.append(record)
        #expect(journal.pendingCount == 2)
        #expect(try FileSystem.status(journal.path)?.mode == 0o600)
    }

    @Test func recordIDsAreRandomVersion4UUIDs() {
        let ids = (0..<100).map { _ in HistoryRecord.newID() }
        #expect(Set(ids).count == 100)
        for id in ids {
            #expect(id.count == 36)
            #expect(Array(id)[14] == "4")
            #expect("89ab".contains(Array(id)[19]))
        }
    }

    @Test func failedAndSucceededRowsAreMapped() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        let settings = HistorySettings(conninfo: "", projectID: "p", journal: "/j", retentionDays: 30)
        let failed = HistoryEvents.archivePush(
            settings, context: context, walPath: "/pg_wal/000000010000000000000003",
            outcome: .failure(CommandError(problem: "boom", fix: "fix it")), durationMs: 5)
        #expect(failed.count == 1)
        #expect(failed[0].status == .failed)
        #expect(failed[0].error == "boom; fix it")
        #expect(failed[0].expiresAt == nil)
        #expect(failed[0].objectName == "000000010000000000000003")

        let name = seg("000000010000000000000003")
        let result = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(name)", makeSegment(name: name)))
        let ok = HistoryEvents.archivePush(settings, context: context, walPath: "", outcome: .success(result), durationMs: 7)
        #expect(ok.count == 1)
        #expect(ok[0].fileID == Paths.join(dir.path, "store", result.stored[0].object.key))
        #expect(ok[0].sha256 == result.sha256)
        #expect(ok[0].size == 1 << 20)
        #expect(ok[0].storedSize == result.stored[0].object.size)
        #expect(ok[0].expiresAt! - ok[0].createdAt == 30 * 86_400 * 1_000_000)
        #expect(ok[0].durationMs == 7)
    }

    @Test func everyMigrationFileIsEmbeddedVerbatim() throws {
        let directory = Paths.join(Paths.dirname(Paths.dirname(Paths.dirname(#filePath))), "Migrations")
        let files = try FileSystem.listDirectory(directory).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == Migrations.all.map(\.name))
        for (index, file) in Migrations.all.enumerated() {
            #expect(file.version == index + 1)
            #expect(Array(file.sql.utf8) == (try FileSystem.readSmallFile(Paths.join(directory, file.name))))
        }
    }
}

@Suite struct HistoryBackoffTests {
    @Test func afterAFailedConnectionRecordsGoStraightToTheJournalUntilTheRetryDelayPasses() throws {
        let dir = TempDir()
        // A socket directory that does not exist: libpq fails at once, no server needed.
        let settings = HistorySettings(
            conninfo: "host=\(dir.path)/no-socket-here port=5 dbname=x", projectID: "p",
            journal: Paths.join(dir.path, "journal"))
        let recorder = HistoryRecorder(settings: settings)
        let record = { HistoryRecord(projectID: "p", type: .wal, operation: "archive-push", status: .succeeded, retentionDays: 30) }
        let first = try #require(recorder.record([record()]))
        #expect(first.hasPrefix("history: cannot connect to the control-plane database"))
        #expect(FileSystem.exists(settings.journal + ".unreachable"))
        let second = try #require(recorder.record([record()]))
        #expect(second.contains("was unreachable"))
        #expect(second.contains("next attempt after 60 s"))
        #expect(recorder.journal.pendingCount == 2)
        // Once the delay has passed (marker aged), the next record tries the database again.
        var old = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, settings.journal + ".unreachable", &old, 0) == 0)
        let third = try #require(recorder.record([record()]))
        #expect(third.hasPrefix("history: cannot connect"))
        #expect(recorder.journal.pendingCount == 3)
    }
}

/// One mapping from events to rows, for every operation.
@Suite struct OperationEventTests {
    let settings = HistorySettings(conninfo: "", projectID: "p", journal: "/j", retentionDays: 7)

    @Test func storedObjectsBecomeRowsAndAnOperationThatStoresNothingOneSummaryRow() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("a"), dir.sub("b")])
        let facts = OperationFacts(
            objectName: "L1", size: 10, storedSize: 4, sha256: "ab", systemIdentifier: "9", timeline: 2, startLSN: "0/1", stopLSN: "0/2")
        let backup = HistoryEvents.rows(
            settings, context: context,
            events: [
                .started(operation: "backup", type: .database, subject: nil), .progressed(note: "copied"), .warning("slow"),
                .stored(store: "store1", key: "main/backup/L1", facts: facts), .stored(store: "store2", key: "main/backup/L1", facts: facts),
                .succeeded(nil)
            ], durationMs: 3)
        #expect(backup.map(\.storeName) == ["store1", "store2"])
        #expect(backup[1].fileID == Paths.join(dir.path, "b", "main/backup/L1"))
        #expect(
            backup.allSatisfy {
                $0.objectName == "L1" && $0.startLSN == "0/1" && $0.stopLSN == "0/2" && $0.status == .succeeded && $0.expiresAt != nil
            })

        let restore = HistoryEvents.rows(
            settings, context: context,
            events: [
                .started(operation: "restore", type: .database, subject: nil), .succeeded(OperationFacts(objectName: "L1", size: 10, timeline: 3))
            ], durationMs: 3)
        #expect(restore.count == 1)
        #expect(restore[0].operation == "restore" && restore[0].timeline == 3 && restore[0].expiresAt == nil && restore[0].storeName == nil)

        let failed = HistoryEvents.rows(
            settings, context: context,
            events: [
                .started(operation: "backup", type: .database, subject: nil), .failed(error: "boom; fix", code: "command.refused")
            ], durationMs: 3)
        #expect(failed.count == 1 && failed[0].status == .failed && failed[0].error == "boom; fix" && failed[0].objectName == nil)
        // Migration 0004: the failed row's code, and who ran it from where.
        #expect(failed[0].errorCode == "command.refused")
        #expect(failed[0].actor == HistoryActor.thisProcess.name && failed[0].origin == "cli")
        let byOwner = HistoryEvents.rows(
            settings, context: context,
            events: [
                .started(operation: "backup", type: .database, subject: nil), .failed(error: "x", code: "drill.failed")
            ], durationMs: 1, actor: HistoryActor(name: "owner@example.com", origin: "http 203.0.113.7"))
        #expect(byOwner[0].actor == "owner@example.com" && byOwner[0].origin == "http 203.0.113.7" && byOwner[0].errorCode == "drill.failed")
        #expect(HistoryActor.describe(user: "root", sudoUser: "alice") == "root (sudo from alice)")
        #expect(HistoryActor.describe(user: "postgres", sudoUser: nil) == "postgres")
        #expect(HistoryActor.describe(user: "root", sudoUser: "root") == "root")
        #expect(ErrorCodes.of(DrillFailure(report: DrillReport())) == "drill.failed")
        #expect(HistoryEvents.rows(settings, context: context, events: [], durationMs: 0).isEmpty)
    }

    /// Every operation reports started first and exactly one of succeeded or failed last.
    @Test func operationsReportTheirWholeLife() throws {
        let dir = TempDir()
        let context = makeContext(stores: [dir.sub("store")])
        let log = EventLog()
        let name = seg("000000010000000000000003")
        _ = try ArchivePush(context: context).run(walPath: dir.write("pg_wal/\(name)", makeSegment(name: name)), events: log)
        #expect(log.events.first == .started(operation: "archive-push", type: .wal, subject: name.description))
        #expect(log.events.last == .succeeded(nil))
        #expect(log.events.filter { if case .stored = $0 { return true } else { return false } }.count == 1)

        let failing = EventLog()
        #expect(throws: (any Error).self) { _ = try ArchivePush(context: context).run(walPath: dir.write("x/\(name)", [1, 2]), events: failing) }
        #expect(failing.events.count == 2)
        guard case .failed(let error, let code)? = failing.events.last else { Issue.record("no failed event"); return }
        #expect(error.contains("too short"))
        #expect(code == "command.refused")
    }
}

/// Every error carries a stable code beside its text.
@Suite struct ErrorCodeTests {
    @Test func everyLayersErrorHasAStableCode() {
        #expect(ErrorCodes.of(SystemError("open", path: "/x", code: ENOENT)) == "system.not_found")
        #expect(ErrorCodes.of(SystemError("write", path: "/x", code: ENOSPC)) == "system.no_space")
        #expect(ErrorCodes.of(ConfigError(file: "/c", problem: "p", fix: "f")) == "config.invalid")
        #expect(ErrorCodes.of(PipelineError(stage: "zstd", "bad")) == "pipeline.bad_data")
        #expect(ErrorCodes.of(StoreError(store: "s", kind: .transient, problem: "p", fix: nil)) == "store.transient")
        #expect(ErrorCodes.of(CommandError(problem: "p", fix: "f")) == "command.refused")
        #expect(ErrorCodes.of(CatalogError(problem: "p", fix: "f")) == "catalog.refused")
        #expect(ErrorCodes.of(RepositoryError(problem: "p", fix: "f")) == "repository.damaged")
        #expect(ErrorCodes.of(PostgresError(problem: "p", fix: "f", isConnectionFailure: true)) == "postgres.unreachable")
        #expect(ErrorCodes.of(EncryptionError.notEncrypted("o")) == "encryption.not_encrypted")
        #expect(ErrorCodes.of(ArchiveGetFailure(file: "f", problems: ["x"])) == "archive_get.undeliverable")
        #expect(ErrorCodes.of(BackupFailure(underlying: StoreError(store: "s", kind: .auth, problem: "p", fix: nil), cleanup: "c")) == "store.auth")
        #expect(ErrorCodes.of(CancellationError()) == "internal")
        // The text users read is unchanged by the code.
        #expect("\(StoreError(store: "s", kind: .auth, problem: "denied", fix: nil))" == "store \"s\": denied")
        #expect(
            "\(ArchiveGetFailure(file: "f", problems: ["x", "y"]))"
                == "cannot deliver f intact: x; also y; recovery was stopped rather than continue without it: repair or replace the object, or add a store that has a good copy"
        )
    }
}
