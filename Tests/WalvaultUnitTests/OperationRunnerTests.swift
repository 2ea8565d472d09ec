import Synchronization
import Testing
import WalvaultCatalog
import WalvaultConfig
import WalvaultHistory
import WalvaultRepository
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultKit
@testable import WalvaultMaintenance
@testable import WalvaultService
@testable import WalvaultShipping

#if canImport(Glibc)
    import Glibc
#endif

/// Records every call the runner makes around an operation, in order.
final class RecordingServices: JobServices {
    let calls = Mutex<[String]>([])
    let historyEvents = Mutex<[[OperationEvent]]>([])
    let actors = Mutex<[HistoryActor]>([])

    var recorded: [String] { calls.withLock { $0 } }

    func recordHistory(_ events: [OperationEvent], durationMs: Int, actor: HistoryActor, context: WalvaultContext) -> String? {
        calls.withLock { $0.append("history") }
        historyEvents.withLock { $0.append(events) }
        actors.withLock { $0.append(actor) }
        return nil
    }
    func recordExpiry(_ report: ExpireReport, context: WalvaultContext) -> String? {
        calls.withLock { $0.append("history of expire") }
        return nil
    }
    func recordShipped(_ shipped: [Ship.Shipped], durationMs: Int, actor: HistoryActor, context: WalvaultContext) -> String? {
        calls.withLock { $0.append("history of \(shipped.count) shipped") }
        return nil
    }
    func alertFailed(_ condition: String, error: String, immediate: Bool, context: WalvaultContext) -> [String] {
        calls.withLock { $0.append("alert \(condition) failed\(immediate ? " now" : ""): \(error)") }
        return []
    }
    func alertSucceeded(_ condition: String, context: WalvaultContext) -> [String] {
        calls.withLock { $0.append("alert \(condition) succeeded") }
        return []
    }
    func checkBackupAge(force: Bool, context: WalvaultContext) -> [String] {
        calls.withLock { $0.append("backup age") }
        return []
    }
    func expire(context: WalvaultContext) throws -> ExpireReport {
        calls.withLock { $0.append("expire") }
        return try Expire(context: context).run()
    }
    func startShipper(context: WalvaultContext) -> String? {
        calls.withLock { $0.append("shipper") }
        return "cannot start walvault ship (test)"
    }
}

/// Keeps a job's events, and runs `onEvent` on each (a test cancels from there).
final class JobEvents: JobObserver {
    let kept = Mutex<[JobEvent]>([])
    let onEvent: @Sendable (JobEvent) -> Void
    init(onEvent: @escaping @Sendable (JobEvent) -> Void = { _ in }) { self.onEvent = onEvent }
    func receive(_ event: JobEvent) {
        kept.withLock { $0.append(event) }
        onEvent(event)
    }
    var events: [JobEvent] { kept.withLock { $0 } }
}

final class CountingObserver: OperationObserver {
    private let counted = Mutex(0)
    var count: Int { counted.withLock { $0 } }
    func receive(_ event: OperationEvent) {
        if case .progress = event { counted.withLock { $0 += 1 } }
    }
}

/// An operation that stores one object (or fails), so the runner's lifecycle can be watched alone.
struct FakeBackup: WalvaultOperation {
    var failure: CommandError?
    /// Looks at the job's own status file while it runs.
    var whileRunning: @Sendable (JobContext) -> Void = { _ in }

    var kind: OperationKind { .backup }
    var lifecycle: Lifecycle { Lifecycle(alertCondition: "backup", expiresAfter: true, checksBackupAge: true) }

    func run(_ job: JobContext) throws -> [String] {
        try job.run(
            "backup", type: .database,
            summary: { _ in
                ([(store: "store1", key: "main/backup/L1", facts: OperationFacts(objectName: "L1", size: 10, storedSize: 5))], nil)
            }
        ) {
            job.receive(.progress(ProgressReport(phase: "copy", done: 4, total: 10, unit: .bytes, filesDone: 1, filesTotal: 3)))
            whileRunning(job)
            if let failure { throw failure }
            return ["offsite"]
        }
    }

    func queuedFor(_ output: [String]) -> [String] { output }
}

@Suite struct OperationRunnerTests {
    func context(_ dir: TempDir, retention: Bool = true) -> WalvaultContext {
        let settings = [StoreSettings(name: "store1", kind: .local(path: dir.sub("store")))]
        let config = WalvaultConfig(
            path: "/test/walvault.toml", cluster: ClusterSettings(name: "main", spool: dir.sub("spool")),
            compression: CompressionSettings(algorithm: .zstd), stores: settings,
            history: HistorySettings(conninfo: "host=/nonexistent", projectID: "p"),
            retention: retention ? RetentionSettings(days: 30) : nil)
        return WalvaultContext(config: config, stores: settings.map { try! WalvaultContext.makeStore($0) })
    }

    /// From the library alone, no CLI: one history row, one alert, the shipper, one expire and its
    /// history, the backup-age check, in that order.
    @Test func aSucceedingOperationGetsItsWholeLifecycleOnce() throws {
        let dir = TempDir()
        let context = context(dir)
        let services = RecordingServices()
        let observer = JobEvents()
        let actor = HistoryActor(name: "owner@example.com", origin: "203.0.113.7")
        let outcome = OperationRunner(services: services, actor: actor).run(FakeBackup(), context: context, observers: [observer])
        #expect(try outcome.result.get() == ["offsite"])
        #expect(services.recorded == ["history", "alert backup succeeded", "shipper", "expire", "history of expire", "backup age"])
        #expect(outcome.expired != nil)
        let events = try #require(services.historyEvents.withLock { $0.first })
        let rows = HistoryEvents.rows(try #require(context.config.history), context: context, events: events, durationMs: 1, actor: actor)
        #expect(rows.count == 1)
        #expect(rows.first?.actor == "owner@example.com" && rows.first?.origin == "203.0.113.7")
        #expect(rows.first?.status == .succeeded)

        // Every observer event carries the job and a time; the shipper's warning is one of them.
        let seen = observer.events
        #expect(seen.allSatisfy { $0.jobID == outcome.jobID && $0.time > 0 && $0.operation == .backup })
        #expect(seen.first?.payload == .started)
        #expect(seen.last?.payload == .finished(.succeeded, nil))
        #expect(seen.contains { $0.payload == .warning("cannot start walvault ship (test)") })
        #expect(
            seen.contains { $0.payload == .progress(ProgressReport(phase: "copy", done: 4, total: 10, unit: .bytes, filesDone: 1, filesTotal: 3)) })
    }

    @Test func aFailingOperationIsAlertedWithItsCodeAndNeverExpires() throws {
        let dir = TempDir()
        let services = RecordingServices()
        let observer = JobEvents()
        let outcome = OperationRunner(services: services).run(
            FakeBackup(failure: CommandError(problem: "disk full", fix: "free space")),
            context: context(dir), observers: [observer])
        #expect(outcome.failure == JobFailure(CommandError(problem: "disk full", fix: "free space")))
        #expect(outcome.failure?.code == "command.refused")
        #expect(services.recorded == ["history", "alert backup failed now: disk full; free space", "backup age"])
        let events = try #require(services.historyEvents.withLock { $0.first })
        guard case .failed(_, let code)? = events.last else { Issue.record("no failed event"); return }
        #expect(code == "command.refused")
        guard case .finished(.failed, let failure?)? = observer.events.last?.payload else { Issue.record("no finished event"); return }
        #expect(failure.problem == "disk full" && failure.fix == "free space")
    }

    /// archive-push's failures alert after a streak (PostgreSQL retries), named by the store that failed.
    @Test func archivePushAlertsAfterAStreakNamingTheStore() throws {
        let dir = TempDir()
        let services = RecordingServices()
        let missing = OperationRunner(services: services).run(
            ArchivePushOperation(walPath: dir.sub("pg_wal") + "/000000010000000000000001"), context: context(dir))
        #expect(missing.failure != nil)
        #expect(services.recorded.last?.hasPrefix("alert archive-push failed: ") == true, "\(services.recorded)")
        let operation = ArchivePushOperation(walPath: "x")
        #expect(
            operation.alertCondition(for: StoreError(store: "offsite", kind: .transient, problem: "p", fix: nil))
                == "archive-push to store \"offsite\"")
        #expect(operation.lifecycle.alertImmediately == false)
        #expect(!FileSystem.exists(Paths.join(dir.path, "spool/jobs")), "archive-push writes no status file")
    }

    /// Without `[history]` there is nothing to record, and the user database is never asked who runs.
    @Test func withoutHistoryNoRowIsRecorded() throws {
        let dir = TempDir()
        var config = context(dir).config
        config.history = nil
        let services = RecordingServices()
        _ = OperationRunner(services: services).run(FakeBackup(), context: WalvaultContext(config: config, stores: context(dir).rawStores))
        #expect(!services.recorded.contains("history"))
        #expect(services.recorded.contains("alert backup succeeded"))
    }

    @Test func withoutRetentionNothingExpires() throws {
        let dir = TempDir()
        let services = RecordingServices()
        _ = OperationRunner(services: services).run(FakeBackup(), context: context(dir, retention: false))
        #expect(!services.recorded.contains("expire"))
    }

    /// Ship's lifecycle is per flush and per pass, and it too is the runner's, not the CLI's.
    @Test func shipRecordsEachFlushAndAlertsEachPassThroughTheServices() throws {
        let rig = ShippingRig(parallel: 2)
        for i in 1...3 { _ = try rig.push("00000001000000000000000\(i)", seed: UInt64(i)) }
        let services = RecordingServices()
        var config = rig.context.config
        config.history = HistorySettings(conninfo: "host=/nonexistent", projectID: "p")
        let outcome = OperationRunner(services: services).run(
            ShipOperation(), context: WalvaultContext(config: config, stores: rig.context.rawStores))
        #expect(try outcome.result.get().shipped == 5, "three segments, archive.info and its copy (the binding, with no history row)")
        #expect(services.recorded == ["history of 3 shipped", "alert ship to store \"offsite\" succeeded", "backup age"])
        #expect(rig.context.jobStatusDirectory.list().first?.operation == .ship)
    }

    // MARK: status files

    @Test func aRunningJobIsSeenFromItsStatusFileAndAFinishedOneSaysHowItEnded() throws {
        let dir = TempDir()
        let context = context(dir)
        let seenWhileRunning = Mutex<[JobStatus]>([])
        let operation = FakeBackup(whileRunning: { job in seenWhileRunning.withLock { $0 = job.context.jobStatusDirectory.list() } })
        let outcome = OperationRunner(services: RecordingServices(), actor: HistoryActor(name: "ops", origin: "cli")).run(operation, context: context)
        let running = try #require(seenWhileRunning.withLock { $0 }.first)
        #expect(running.id == outcome.jobID)
        #expect(running.state == .running && running.operation == .backup && running.pid == getpid() && running.actor == "ops")
        #expect(running.progress?.phase == "copy" && running.progress?.percent == 40)
        #expect(running.summary == "backup running, 40 % (copy)")
        #expect(FileSystem.exists(Paths.join(dir.path, "spool/jobs/\(outcome.jobID).json")))

        let finished = try #require(context.jobStatusDirectory.list().first)
        #expect(finished.id == outcome.jobID && finished.state == .succeeded && finished.finishedAt != nil)

        _ = OperationRunner(services: RecordingServices()).run(FakeBackup(failure: CommandError(problem: "boom", fix: "x")), context: context)
        let failed = try #require(context.jobStatusDirectory.list().first)
        #expect(failed.state == .failed && failed.errorCode == "command.refused" && failed.error == "boom; x")
        #expect(context.jobStatusDirectory.list().count == 2)
    }

    /// A job killed with -9 leaves its file saying "running": its process is gone, so it is
    /// reported as interrupted, never as running.
    @Test func aJobKilledWithSignal9IsInterruptedNotRunning() throws {
        let dir = TempDir()
        let directory = JobStatusDirectory(spool: dir.sub("spool"))
        let child = try ChildProcess.spawn("/bin/sleep", ["60"], output: "/dev/null")
        let start = FileSystem.processStartTicks(child)
        #expect(start != nil)
        try directory.write(
            JobStatus(id: "J1", operation: .backup, cluster: "main", pid: child, processStart: start, startedAt: 1, actor: "cron", origin: "cli"))
        #expect(directory.list().first?.state == .running, "alive: running")
        kill(child, SIGKILL)
        var status: Int32 = 0
        waitpid(child, &status, 0)
        #expect(directory.list().first?.state == .interrupted)
    }

    @Test func aReusedPidIsNotTakenForTheJob() {
        let status = JobStatus(id: "J", operation: .restore, cluster: "main", pid: 42, processStart: 1000, startedAt: 1, actor: "a", origin: "cli")
        #expect(JobStatus.judged(status, processStart: 1000).state == .running)
        #expect(JobStatus.judged(status, processStart: 2000).state == .interrupted)
        #expect(JobStatus.judged(status, processStart: nil).state == .interrupted)
        var done = status
        done.state = .succeeded
        #expect(JobStatus.judged(done, processStart: nil).state == .succeeded)
    }

    @Test func finishedStatusFilesArePrunedToTheNewest() throws {
        let dir = TempDir()
        let directory = JobStatusDirectory(spool: dir.sub("spool"))
        for i in 0..<5 {
            var status = JobStatus(
                id: "J\(i)", operation: .verify, cluster: "main", pid: 1, processStart: nil, startedAt: Int64(i), actor: "a", origin: "cli")
            status.state = .succeeded
            try directory.write(status)
        }
        directory.prune(keep: 2)
        #expect(directory.list().map(\.id) == ["J4", "J3"])
    }

    // MARK: progress

    @Test func progressIsThrottledToTenASecond() {
        #expect(!ProgressMeter.isDue(now: 1_050_000_000, last: 1_000_000_000))
        #expect(ProgressMeter.isDue(now: 1_100_000_000, last: 1_000_000_000))
        let counter = CountingObserver()
        let clock = Stopwatch()
        let meter = ProgressMeter(events: counter, phase: "copy", unit: .bytes, total: 100_000, filesTotal: 10)
        for _ in 0..<100_000 { meter.add(1) }
        meter.finish()
        // The first event and the last, and at most one per 100 ms between them.
        let allowed = 2 + Int(clock.seconds * 10) + 1
        #expect(counter.count >= 2 && counter.count <= allowed, "\(counter.count) events in \(clock.seconds) s")
        #expect(meter.report == ProgressReport(phase: "copy", done: 100_000, total: 100_000, unit: .bytes, filesDone: 0, filesTotal: 10))
    }

    @Test func theStatusLineSaysPhasePercentFilesBytesRateAndETA() {
        let report = ProgressReport(phase: "copy", done: 880_000_000, total: 2_048_000_000, unit: .bytes, filesDone: 120, filesTotal: 812)
        #expect(
            ProgressText.line(.backup, report, elapsed: 12, phaseSeconds: 10)
                == "[0:12] backup copy 42 %  120/812 files  880.0/2048.0 MB  88.0 MB/s  ETA 0:13")
        #expect(ProgressText.phaseLine(report) == "phase copy: 812 files, 2048.0 MB")
        #expect(ProgressText.phaseLine(ProgressReport(phase: "wait-wal", done: 0, total: 3, unit: .files)) == "phase wait-wal: 3 files")
        #expect(ProgressText.clock(3725) == "1:02:05")
    }
}
