import Testing
import WalvaultCatalog
import WalvaultConfig
import WalvaultPostgres
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultArchive
@testable import WalvaultBackup
@testable import WalvaultKit
@testable import WalvaultMaintenance

#if canImport(Glibc)
    import Glibc
#endif

/// `Backup.run` against a fake database session: everything but the SQL, without a server.
@Suite struct BackupSessionTests {
    static let systemIdentifier: UInt64 = 7_000_000_000_000_000_001
    static let segmentSize = 1 << 20

    /// Plays PostgreSQL: answers the backup SQL and, at stop, archives the backup's WAL the way
    /// archive_command would (through walvault's own archive-push), unless told not to.
    final class FakeSession: BackupSession {
        let context: WalvaultContext
        let walDirectory: String
        var serverFacts: ServerFacts
        var archives = true
        var stopFails = false
        var clock: Int64 = 1_795_428_000_000_000
        var started: String?

        init(context: WalvaultContext, pgdata: String, walDirectory: String) {
            self.context = context
            self.walDirectory = walDirectory
            serverFacts = ServerFacts(
                versionNumber: 150_004, systemIdentifier: String(BackupSessionTests.systemIdentifier),
                walSegmentSize: BackupSessionTests.segmentSize, dataDirectory: pgdata,
                archiveCommand: "walvault --config /test/walvault.toml archive-push %p")
        }

        func facts() throws -> ServerFacts { serverFacts }
        func clockMicros() throws -> Int64 {
            clock += 1_000_000
            return clock
        }
        func start(label: String) throws -> String {
            started = label
            return "0/200028"
        }
        func stop() throws -> BackupStop {
            if stopFails { throw PostgresError(problem: "the database refused pg_backup_stop: connection lost", fix: "see the server log") }
            if archives {
                for number in [UInt64(2), 3] {
                    let name = WALSegmentName(timeline: 1, segmentNumber: number, segmentSize: BackupSessionTests.segmentSize)
                    let path = Paths.join(walDirectory, name.description)
                    try FileSystem.writeAtomically(
                        path,
                        contents: makeSegment(
                            name: name, systemIdentifier: BackupSessionTests.systemIdentifier,
                            segmentSize: BackupSessionTests.segmentSize, seed: number))
                    _ = try ArchivePush(context: context).run(walPath: path)
                }
                let history = Paths.join(walDirectory, "000000010000000000000002.00000028.backup")
                try FileSystem.writeAtomically(history, contents: Array("START WAL LOCATION: 0/200028\nSTOP WAL LOCATION: 0/300100\n".utf8))
                _ = try ArchivePush(context: context).run(walPath: history)
            }
            return BackupStop(
                lsn: "0/300100", labelFile: "START WAL LOCATION: 0/200028 (file 000000010000000000000002)\nSTART TIMELINE: 1\n",
                tablespaceMap: nil)
        }
        func lastArchiveFailure() -> (wal: String, time: String)? { ("000000010000000000000002", "2026-11-23 10:00:05+00") }
    }

    struct Fixture {
        let dir = TempDir()
        let pgdata: String
        let store: String
        let context: WalvaultContext
        let session: FakeSession
        let files: [String: [UInt8]]

        init() throws {
            pgdata = dir.sub("pgdata")
            store = dir.sub("store")
            var control = [UInt8](repeating: 0, count: 8192)
            withUnsafeBytes(of: BackupSessionTests.systemIdentifier.littleEndian) { for (i, b) in $0.enumerated() { control[i] = b } }
            files = [
                "PG_VERSION": Array("15\n".utf8), "base/1/1259": sampleBytes(70_000, seed: 8), "base/1/2608": sampleBytes(3, seed: 9),
                "global/pg_control": control, "postgresql.conf": Array("port = 5432\n".utf8)
            ]
            for (path, bytes) in files { _ = dir.write("pgdata/" + path, bytes) }
            _ = dir.write("pgdata/postmaster.pid", Array("1\n".utf8))
            let settings = [StoreSettings(name: "store1", kind: .local(path: store))]
            let config = WalvaultConfig(
                path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", pgdata: pgdata, conninfo: "host=/fake"),
                compression: CompressionSettings(algorithm: .zstd), stores: settings)
            context = WalvaultContext(config: config, stores: settings.map { try! WalvaultContext.makeStore($0) })
            session = FakeSession(context: context, pgdata: pgdata, walDirectory: dir.sub("pg_wal"))
        }

        func backup(walTimeout: Double = 5) throws -> BackupReport {
            var backup = Backup(context: context)
            backup.partSize = 20_000
            backup.walTimeoutSeconds = walTimeout
            let session = self.session
            backup.openSession = { conninfo in
                #expect(conninfo == "host=/fake")
                return session
            }
            return try backup.run()
        }
    }

    @Test func aBackupAgainstTheFakeSessionIsCompleteAndRestores() throws {
        let f = try Fixture()
        let report = try f.backup()
        let m = report.manifest
        #expect(m.label == "20261123T100001Z")
        #expect(f.session.started == "walvault 20261123T100001Z")
        #expect(m.startLSN.description == "0/200028" && m.stopLSN.description == "0/300100")
        #expect(m.timeline == 1 && m.systemIdentifier == String(Self.systemIdentifier))
        #expect(m.parts.count >= 4, "70 KB of files in 20 KB parts")
        #expect(m.entries.contains { $0.path == "postmaster.pid" } == false)
        #expect(FileSystem.exists(Paths.join(f.store, "main/backup/\(m.label)/backup.manifest")))

        let target = Paths.join(f.dir.path, "restored")
        _ = try Restore(context: f.context, options: RestoreOptions(pgdata: target, target: .latest, restoreCommand: "/x")).run()
        for (path, bytes) in f.files { #expect(read(Paths.join(target, path)) == bytes, "\(path)") }
    }

    @Test func aStopThatFailsTakesBackTheParts() throws {
        let f = try Fixture()
        f.session.stopFails = true
        do {
            _ = try f.backup()
            Issue.record("expected an error")
        } catch let error as BackupFailure {
            #expect("\(error)".hasPrefix("the database refused pg_backup_stop: connection lost"))
            #expect("\(error)".hasSuffix("the parts it wrote were removed"))
        }
        #expect(filesUnder(Paths.join(f.store, "main/backup")).isEmpty)
        #expect(try InfoReport.gather(context: f.context).incompleteBackups.isEmpty)
    }

    @Test func walThatNeverArrivesIsNamedWithTheArchiversLastFailure() throws {
        let f = try Fixture()
        f.session.archives = false
        let message = "\(try #require(thrownError { _ = try f.backup(walTimeout: 0.3) }))"
        #expect(message.contains("000000010000000000000002 was not archived within 0.3 s"))
        #expect(message.contains("the archiver last failed on 000000010000000000000002 at 2026-11-23 10:00:05+00"))
        #expect(message.hasSuffix("the parts it wrote were removed"))
    }

    @Test(arguments: [
        ("version", "walvault backup needs 15 or later"), ("standby", "the server is a standby"),
        ("pgdata", "but the server at conninfo runs from /elsewhere"), ("archiver", "archive_command is '/bin/true'")
    ])
    func refusalsComeBeforeAnythingIsCopied(what: String, message: String) throws {
        let f = try Fixture()
        switch what {
        case "version": f.session.serverFacts.versionNumber = 140_010
        case "standby": f.session.serverFacts.inRecovery = true
        case "pgdata": f.session.serverFacts.dataDirectory = "/elsewhere"
        default: f.session.serverFacts.archiveCommand = "/bin/true"
        }
        let error = try #require(thrownError { _ = try f.backup() })
        #expect("\(error)".contains(message), "\(error)")
        #expect(f.session.started == nil)
        #expect(filesUnder(f.store).isEmpty)
    }

    @Test func labelsAreTheServersUTCSecond() {
        #expect(BackupLabel.make(1_795_428_000_999_999) == "20261123T100000Z")
        #expect(BackupLabel.startTime(BackupLabel.make(1_795_428_123_000_000)) == 1_795_428_123_000_000)
    }
}

private func thrownError(_ body: () throws -> Void) -> Error? {
    do { try body() } catch { return error }
    return nil
}
