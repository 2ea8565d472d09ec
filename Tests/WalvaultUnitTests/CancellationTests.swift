import Dispatch
import Synchronization
import Testing
import WalvaultCatalog
import WalvaultConfig
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultBackup
@testable import WalvaultKit
@testable import WalvaultMaintenance
@testable import WalvaultService
@testable import WalvaultShipping

#if canImport(Glibc)
    import Glibc
#endif

/// Cancels an operation from inside a store, at a known point: after the store committed its
/// `afterCommits`-th object, or when the first object is opened for reading.
final class CancellingStore: StoreWrapper {
    let base: Store
    let cancellation: Cancellation
    let afterCommits: Int?
    let onFirstRead: Bool
    private let commits = Mutex(0)

    init(_ base: Store, cancellation: Cancellation, afterCommits: Int? = nil, onFirstRead: Bool = false) {
        self.base = base
        self.cancellation = cancellation
        self.afterCommits = afterCommits
        self.onFirstRead = onFirstRead
    }

    func openReader(key: String) throws -> ObjectReader {
        if onFirstRead { cancellation.cancel() }
        return try base.openReader(key: key)
    }
    func makeWriter(directory: String) throws -> ObjectWriter { Writer(try base.makeWriter(directory: directory), store: self) }
    func readSmall(key: String) throws -> [UInt8]? { try base.readSmall(key: key) }
    func createSmall(key: String, contents: [UInt8]) throws -> Bool { try base.createSmall(key: key, contents: contents) }

    func committed() {
        let count = commits.withLock { count -> Int in
            count += 1
            return count
        }
        if let afterCommits, count >= afterCommits { cancellation.cancel() }
    }

    final class Writer: ObjectWriter {
        let base: ObjectWriter
        let store: CancellingStore
        init(_ base: ObjectWriter, store: CancellingStore) {
            self.base = base
            self.store = store
        }
        func write(_ bytes: UnsafeRawBufferPointer) throws { try base.write(bytes) }
        func commit(name: String) throws -> CommitOutcome {
            let outcome = try base.commit(name: name)
            store.committed()
            return outcome
        }
        func abort() { base.abort() }
    }
}

/// Cancels the operation at the first progress event of `phase`.
final class CancelAtPhase: OperationObserver {
    let cancellation = Cancellation()
    let phase: String
    init(_ phase: String) { self.phase = phase }
    func receive(_ event: OperationEvent) {
        if case .progress(let report) = event, report.phase == phase { cancellation.cancel() }
    }
}

@Suite struct CancellationTests {
    /// Cancelled after its first part was stored: the backup fails as cancelled and takes back
    /// every part it wrote, exactly as a failed one does.
    @Test func aCancelledBackupCleansUpLikeAFailedOne() throws {
        let f = try BackupSessionTests.Fixture()
        let cancellation = Cancellation()
        let store = CancellingStore(f.context.rawStores[0], cancellation: cancellation, afterCommits: 1)
        let context = WalvaultContext(config: f.context.config, stores: [store])
        var backup = Backup(context: context)
        backup.partSize = 20_000
        let session = f.session
        backup.openSession = { _ in session }
        let events = EventLog(cancellation: cancellation)
        do {
            _ = try backup.run(events: events)
            Issue.record("the backup was not cancelled")
        } catch let failure as BackupFailure {
            #expect(failure.underlying is OperationCancelled)
            #expect(failure.errorCode == "operation.cancelled")
            #expect("\(failure)".hasSuffix("the parts it wrote were removed"))
        }
        #expect(filesUnder(Paths.join(f.store, "main/backup")).isEmpty)
        guard case .failed(_, let code)? = events.events.last else { Issue.record("no failed event"); return }
        #expect(code == "operation.cancelled")
    }

    /// Through the runner, a backup cancelled before it began fails as cancelled before it opens a
    /// session, and its status file and last event say so.
    @Test func theRunnerReportsACancelledBackupAsCancelled() throws {
        let f = try BackupSessionTests.Fixture()
        let cancellation = Cancellation()
        cancellation.cancel()
        var config = f.context.config
        config.cluster.spool = f.dir.sub("spool")
        let context = WalvaultContext(config: config, stores: f.context.rawStores)
        let observer = JobEvents()
        let outcome = OperationRunner(services: RecordingServices()).run(
            BackupOperation(), context: context, observers: [observer], cancellation: cancellation)
        #expect(outcome.wasCancelled)
        guard case .finished(.cancelled, let failure?)? = observer.events.last?.payload else { Issue.record("not finished as cancelled"); return }
        #expect(failure.code == "operation.cancelled")
        #expect(context.jobStatusDirectory.list().first?.state == .cancelled)
    }

    /// Cancelled while its parts are written: no pg_control, so PostgreSQL will not start a half
    /// restored directory.
    @Test(arguments: [1, 4]) func aCancelledRestoreNeverWritesPGControl(parallel: Int) throws {
        let f = try BackupRestoreTests.Fixture()
        let cancellation = Cancellation()
        var config = f.context.config
        config.performance.restoreParallel = parallel
        let store = CancellingStore(f.context.rawStores[0], cancellation: cancellation, onFirstRead: true)
        let target = Paths.join(f.dir.path, "restored")
        let restore = Restore(
            context: WalvaultContext(config: config, stores: [store]),
            options: RestoreOptions(pgdata: target, target: .latest, restoreCommand: "/x"))
        #expect(throws: OperationCancelled.self) { _ = try restore.run(events: EventLog(cancellation: cancellation)) }
        #expect(!FileSystem.exists(Paths.join(target, "global/pg_control")))
        #expect(!FileSystem.exists(Paths.join(target, "recovery.signal")))
    }

    /// A restore cancelled after every part was written still stops before pg_control.
    @Test func aRestoreCancelledAfterItsPartsStillWritesNoPGControl() throws {
        let f = try BackupRestoreTests.Fixture()
        let target = Paths.join(f.dir.path, "restored")
        let restore = Restore(context: f.context, options: RestoreOptions(pgdata: target, target: .latest, restoreCommand: "/x"))
        let events = CancelAtPhase("restore")
        #expect(throws: OperationCancelled.self) { _ = try restore.run(events: events) }
        #expect(!FileSystem.exists(Paths.join(target, "global/pg_control")))
    }

    @Test func aCancelledVerifyStopsWithoutAReport() throws {
        let rig = ShippingRig(parallel: 1)
        for i in 1...4 { _ = try rig.push("00000001000000000000000\(i)", seed: UInt64(i)) }
        let cancellation = Cancellation()
        let stores = rig.context.rawStores.map { CancellingStore($0, cancellation: cancellation, onFirstRead: true) as Store }
        let verify = Verify(context: WalvaultContext(config: rig.context.config, stores: stores), workers: 1)
        #expect(throws: OperationCancelled.self) { _ = try verify.run(events: EventLog(cancellation: cancellation)) }
        // Not cancelled, the same stores verify cleanly.
        #expect(try Verify(context: rig.context, workers: 1).run().ok)
    }

    /// Cancelled after its first object: that one left the queue, every other entry stays.
    @Test func aCancelledShipKeepsEveryEntryNotYetDurable() throws {
        let rig = ShippingRig(parallel: 1)
        for i in 1...5 { _ = try rig.push("00000001000000000000000\(i)", seed: UInt64(i)) }
        #expect(try rig.queue().entries().count == 5)
        let cancellation = Cancellation()
        var stores = rig.context.rawStores
        stores[1] = CancellingStore(stores[1], cancellation: cancellation, afterCommits: 1)
        var ship = Ship(context: WalvaultContext(config: rig.context.config, stores: stores))
        ship.cancellation = cancellation
        let report = try ship.run()
        #expect(report.cancelled)
        #expect(report.shipped == 3, "archive.info and its copy (the binding, created small), then one segment")
        #expect(try rig.queue().entries().count == 4)
        #expect(report.remaining["offsite"] == 4)
        let shipped = filesUnder(Paths.join(rig.async, "main/wal")).filter { !$0.hasPrefix(".") && !$0.contains("/.") }
        #expect(shipped.count == 1)
        // The next run ships the rest.
        #expect(try Ship(context: rig.context).run().shipped == 4)
        #expect(try rig.queue().entries().isEmpty)
    }

    @Test(.timeLimit(.minutes(1))) func shipFollowReturnsWhenCancelled() throws {
        let rig = ShippingRig(parallel: 1)
        var ship = Ship(context: rig.context)
        let cancellation = Cancellation()
        ship.cancellation = cancellation
        let shipper = ship
        let finished = Mutex<Ship.Report?>(nil)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { finished.withLock { $0 = try? shipper.run(follow: true, interval: 0.2) } }
        _ = try rig.push("000000010000000000000001")
        // The follower ships what arrives while it runs; wait for that, then cancel.
        while try !rig.queue().entries().isEmpty { usleep(20_000) }
        cancellation.cancel()
        group.wait()
        let report = try #require(finished.withLock { $0 })
        #expect(report.cancelled)
    }
}

/// The one worker pool: numbered jobs or jobs drawn as they come, the first failure or a
/// cancellation stopping the rest between jobs.
@Suite struct ParallelJobsTests {
    @Test func drawnJobsAllRunAndACancellationStopsThemBetweenJobs() throws {
        let handed = Mutex(0)
        let ran = Mutex(0)
        let next: @Sendable () -> Int? = {
            handed.withLock { n in
                n < 100
                    ? {
                        n += 1; return n
                    }() : nil
            }
        }
        try ParallelJobs().run(workers: 4, next: next) { _ in ran.withLock { $0 += 1 } }
        #expect(ran.withLock { $0 } == 100)

        let cancellation = Cancellation()
        let counted = Mutex(0)
        let again = Mutex(0)
        #expect(throws: OperationCancelled.self) {
            try ParallelJobs(cancellation: cancellation, doing: "testing").run(
                workers: 2,
                next: {
                    again.withLock { n in
                        n < 1000
                            ? {
                                n += 1; return n
                            }() : nil
                    }
                }
            ) { _ in
                if counted.withLock({ c -> Int in
                    c += 1; return c
                }) == 10 {
                    cancellation.cancel()
                }
            }
        }
        #expect(counted.withLock { $0 } < 1000, "stopped between jobs, not after all of them")
    }

    @Test func theFirstFailureIsWhatIsThrown() {
        struct Boom: Error, Equatable {}
        #expect(throws: Boom.self) {
            try ParallelJobs().run(count: 50, workers: 3) { _, i in if i == 5 { throw Boom() } }
        }
    }
}
