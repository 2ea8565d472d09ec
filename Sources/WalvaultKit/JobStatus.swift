import WalvaultSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// What one job is doing or did, as its status file under `<spool>/jobs/` says: written by the job
/// (atomically, at its start, on progress at most once a second, and at its end) and read by
/// `walvault status`, `info` and the server, from any process. Like pgBackRest's lock files read by
/// `info`, so a backup started by cron is visible from a terminal.
public struct JobStatus: Codable, Equatable, Sendable {
    public enum State: String, Codable, Sendable {
        case running
        case succeeded
        case failed
        case cancelled
        /// The file says running, but its process is gone (killed, or the machine restarted).
        case interrupted
    }

    public var id: String
    public var operation: OperationKind
    public var cluster: String
    public var pid: Int32
    /// The process's start in clock ticks since boot, so a reused pid is not taken for it.
    public var processStart: UInt64?
    /// µs since the epoch.
    public var startedAt: Int64
    public var updatedAt: Int64
    public var finishedAt: Int64?
    public var actor: String
    public var origin: String
    public var state: State
    public var progress: ProgressReport?
    public var error: String?
    public var errorCode: String?

    public init(
        id: String, operation: OperationKind, cluster: String, pid: Int32, processStart: UInt64?, startedAt: Int64, actor: String, origin: String
    ) {
        self.id = id
        self.operation = operation
        self.cluster = cluster
        self.pid = pid
        self.processStart = processStart
        self.startedAt = startedAt
        self.updatedAt = startedAt
        self.actor = actor
        self.origin = origin
        self.state = .running
    }

    /// "backup running, 43 %" / "restore failed: …", for `info` and the status list.
    public var summary: String {
        var text = "\(operation.rawValue) \(state.rawValue)"
        if state == .running || state == .interrupted || state == .cancelled, let progress {
            text += ", " + (progress.percent.map { "\($0) %" } ?? "\(progress.done) \(progress.unit.rawValue)") + " (\(progress.phase))"
        }
        if state == .failed, let error { text += ": \(error)" }
        return text
    }

    /// The verdict on a status read from disk: a running job whose process is gone, or is another
    /// process now, was interrupted. Pure, so the rule is tested without killing anything.
    package static func judged(_ status: JobStatus, processStart: UInt64?) -> JobStatus {
        guard status.state == .running else { return status }
        var judged = status
        if processStart == nil || (status.processStart != nil && status.processStart != processStart) { judged.state = .interrupted }
        return judged
    }
}

extension WalvaultContext {
    /// `<spool>/jobs/`, or beside the cluster lock without a spool: where this cluster's jobs are seen.
    public var jobStatusDirectory: JobStatusDirectory {
        JobStatusDirectory(spool: (try? trustedSpool) ?? ClusterLock.privateDirectory)
    }

    /// This cluster's jobs, newest first (a spool may be shared by clusters).
    public var jobs: [JobStatus] { jobStatusDirectory.list().filter { $0.cluster == config.cluster.name } }
}

/// `<spool>/jobs/`: one `<id>.json` per job. Writing never fails an operation (the caller turns a
/// failure into one warning); finished files beyond the newest `keepFinished` are removed.
public struct JobStatusDirectory: Sendable {
    public let path: String
    public static let keepFinished = 50

    public init(spool: String) { path = Paths.join(spool, "jobs") }

    public func write(_ status: JobStatus) throws {
        if !FileSystem.isDirectory(path) {
            try FileSystem.makeDirectories(path, mode: 0o700)
            if let problem = FileSystem.untrustedDirectoryProblem(Paths.dirname(path)) {
                throw CommandError(problem: problem, fix: "make it a directory only walvault's user can write")
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = Array(try encoder.encode(status)) + [10]
        try FileSystem.writeAtomically(file(status.id), contents: bytes, mode: 0o600, durable: status.state != .running)
    }

    package func file(_ id: String) -> String { Paths.join(path, id + ".json") }

    /// Every job with a readable file, newest first, each judged (`JobStatus.judged`); files that
    /// do not parse are skipped (a reader never fails on another process's file).
    public func list() -> [JobStatus] {
        guard let names = try? FileSystem.listDirectory(path) else { return [] }
        let decoder = JSONDecoder()
        var jobs: [JobStatus] = []
        for name in names where name.hasSuffix(".json") && !name.hasPrefix(".") {
            guard let bytes = try? FileSystem.readSmallFile(Paths.join(path, name), limit: 1 << 16),
                let status = try? decoder.decode(JobStatus.self, from: Data(bytes))
            else { continue }
            jobs.append(JobStatus.judged(status, processStart: FileSystem.processStartTicks(status.pid)))
        }
        return jobs.sorted { $0.startedAt != $1.startedAt ? $0.startedAt > $1.startedAt : $0.id > $1.id }
    }

    /// One job's status, judged like `list`'s; nil when there is no such file, it does not parse,
    /// or `id` is not a job id (letters, digits and dashes: never a path).
    public func status(id: String) -> JobStatus? {
        guard !id.isEmpty, id.utf8.count <= 100,
            id.utf8.allSatisfy({
                $0 == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
            }),
            let bytes = try? FileSystem.readSmallFile(file(id), limit: 1 << 16),
            let status = try? JSONDecoder().decode(JobStatus.self, from: Data(bytes))
        else { return nil }
        return JobStatus.judged(status, processStart: FileSystem.processStartTicks(status.pid))
    }

    /// Writes `interrupted` into the file of every job whose file says running but whose process is
    /// gone, and returns those jobs: each is settled once, so its history row is written once. The
    /// server does this at its start, for the jobs it (or anything else) left behind.
    public func settleInterrupted(now: Int64 = WallClock.nowMicros()) -> [JobStatus] {
        var settled: [JobStatus] = []
        for var status in list() where status.state == .interrupted && status.finishedAt == nil {
            status.finishedAt = now
            status.updatedAt = now
            status.error = "its process (pid \(status.pid)) stopped before the job finished; nothing it wrote is reported as done"
            status.errorCode = "operation.interrupted"
            guard (try? write(status)) != nil else { continue }
            settled.append(status)
        }
        return settled
    }

    /// Removes finished (and interrupted) files beyond the newest `keep`.
    public func prune(keep: Int = JobStatusDirectory.keepFinished) {
        let finished = list().filter { $0.state != .running }
        for status in finished.dropFirst(keep) { try? FileSystem.remove(file(status.id)) }
    }

    /// A job id that sorts by time and names its process: `20261204T031500Z-12345-1`.
    public static func newID(now: Int64 = WallClock.nowMicros(), pid: Int32 = getpid(), sequence: Int) -> String {
        "\(UTCTime.compact(now))-\(pid)-\(sequence)"
    }
}
