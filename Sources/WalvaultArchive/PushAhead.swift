import Dispatch
import Synchronization
import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// What archive-push has made durable ahead of PostgreSQL's calls: `<spool>/pushed/<cluster>/
/// <segment>-<sha256>`, each holding the names of the sync stores it went to, written (fsynced,
/// renamed, directory fsynced) only after every one of them holds the segment. A later call
/// for that segment hashes pg_wal's file, and returns at once when the checksum and the stores
/// are the same; anything else (no entry, another content, another set of stores) is a normal push.
/// Whoever pushes a segment holds `.lock-<segment>` meanwhile, so PostgreSQL's call waits for the
/// worker pushing it rather than pushing it a second time, and the worker skips the one
/// PostgreSQL's call is pushing.
public struct PushAheadStatus: Sendable {
    public let directory: String

    public init?(_ context: WalvaultContext) {
        guard context.config.performance.pushParallel > 1, let spool = try? context.trustedSpool else { return nil }
        directory = Paths.join(Paths.join(spool, "pushed"), context.config.cluster.name)
    }

    /// Held by the one push-ahead worker that runs; it holds its pid, for people and tests.
    package var workerLockPath: String { Paths.join(directory, ".worker") }

    /// - Parameter identity: `FileSystem.identity(of:)` of the file that was hashed and stored.
    package func record(segment: String, sha256: String, stores: [String], identity: String) throws {
        try FileSystem.makeDirectories(directory, mode: 0o700)
        try FileSystem.writeAtomically(
            Paths.join(directory, PushAheadPlan.statusName(segment: segment, sha256: sha256)),
            contents: Array(([identity] + stores).joined(separator: "\n").utf8), mode: 0o600)
    }

    /// The segments that have an entry, from one listing.
    package func recorded() -> Set<String> {
        Set(((try? FileSystem.listDirectory(directory)) ?? []).filter { !$0.hasPrefix(".") }.map { String($0.prefix(24)) })
    }

    /// The lock of one segment's push, held until the descriptor is closed; nil when another
    /// holds it (`wait` false) or it cannot be opened (then the caller pushes as if alone:
    /// two pushes of one file store it once and agree).
    package func lock(segment: String, wait: Bool) -> FileDescriptor? {
        do {
            try FileSystem.makeDirectories(directory, mode: 0o700)
            let path = Paths.join(directory, ".lock-" + segment)
            guard wait else { return try FileDescriptor.tryLocking(path) }
            let lock = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT | O_NOFOLLOW, mode: 0o600)
            try lock.lockExclusive()
            return lock
        } catch {
            return nil
        }
    }

    /// Entries and locks of segments PostgreSQL no longer has `.ready`: it archived them (an entry
    /// left by a push that raced its own call), or they are gone. Listing the entries before
    /// archive_status keeps any entry whose segment is still to be asked for.
    package func removeStale(walDirectory: String) {
        guard let names = try? FileSystem.listDirectory(directory) else { return }
        guard let statusNames = try? FileSystem.listDirectory(Paths.join(walDirectory, "archive_status")) else { return }
        let ready = Set(statusNames.filter { $0.hasSuffix(".ready") }.map { String($0.dropLast(".ready".count)) })
        for name in names where name != ".worker" {
            let segment = name.hasPrefix(".lock-") ? String(name.dropFirst(".lock-".count)) : String(name.prefix(24))
            guard !ready.contains(segment), WALSegmentName(segment) != nil else { continue }
            if name.hasPrefix(".lock-") {
                guard let held = lock(segment: segment, wait: false) else { continue }
                try? FileSystem.remove(Paths.join(directory, name))
                try? held.close()
            } else if !name.hasPrefix(".") {
                try? FileSystem.remove(Paths.join(directory, name))
            }
        }
    }

    /// The checksum of `walPath` when an entry says it is already in exactly `stores` with that
    /// content: the file is the one hashed then (same identity), or it hashes to the entry's
    /// checksum now. The entry is removed either way once it was looked at.
    package func confirm(walPath: String, segment: String, stores: [String]) -> String? {
        guard let name = ((try? FileSystem.listDirectory(directory)) ?? []).first(where: { $0.hasPrefix(segment + "-") && !$0.hasPrefix(".") }) else {
            return nil
        }
        let path = Paths.join(directory, name)
        defer { try? FileSystem.remove(path) }
        let expected = String(name.dropFirst(segment.count + 1))
        guard let recorded = try? FileSystem.readSmallFile(path, limit: 1 << 16) else { return nil }
        let lines = String(decoding: recorded, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 2, Array(lines.dropFirst()) == stores else { return nil }
        if let now = FileSystem.identity(of: walPath), now == lines[0] { return expected }
        guard let input = try? FileDescriptor.openRegularFile(walPath) else { return nil }
        let hashing = HashingStage(next: DiscardSink())
        guard (try? StreamPump.pump(from: input, into: hashing)) != nil, hashing.hexDigest == expected else { return nil }
        return expected
    }
}

/// Push-ahead, PostgreSQL's side: when PostgreSQL calls archive-push for one segment and more are
/// `.ready` in pg_wal/archive_status, a `walvault push-ahead` worker is started in the background
/// (`PushAheadWorker`) to store the backlog while this call stores its own segment. A later call
/// finds its segment's `PushAheadStatus` entry and returns at once, or waits while the worker is
/// pushing it and then finds the entry, or, if neither, pushes it itself. The exit status depends
/// on the segment asked for only, and is 0 only once it is durable in every sync store.
public struct PushAhead {
    public let context: WalvaultContext
    /// How the worker is started: in the background (`PushAheadLauncher`); tests run it in place.
    public var startWorker: @Sendable (_ context: WalvaultContext, _ walDirectory: String) -> String?

    public struct Outcome {
        public let result: Result<ArchivePushResult, Error>
        /// The segment asked for was confirmed from a status entry, not pushed again.
        public let confirmed: Bool
        /// A worker was needed but could not be started (the backlog is pushed one call at a time).
        public let warning: String?
    }

    public init(context: WalvaultContext) {
        self.context = context
        startWorker = { PushAheadLauncher.startIfIdle(context: $0, walDirectory: $1) }
    }

    public func run(walPath: String, events: OperationObserver) -> Outcome {
        let name = Paths.basename(walPath)
        guard let status = PushAheadStatus(context), case .segment? = WALFileName(name) else {
            return Outcome(result: Result { try ArchivePush(context: context).run(walPath: walPath, events: events) }, confirmed: false, warning: nil)
        }
        let stores = context.syncStores.map(\.name)
        // The worker may be pushing this very segment: wait for it, then look for its entry.
        let lock = status.lock(segment: name, wait: true)
        defer { try? lock?.close() }
        if let confirmed = confirmedResult(status: status, walPath: walPath, segment: name, stores: stores) { return confirmed }
        var warning: String?
        // %p is relative to the data directory; the worker gets the absolute path (for its log lines too).
        let walDirectory = FileSystem.realPath(Paths.dirname(walPath)) ?? Paths.dirname(walPath)
        let statusNames = (try? FileSystem.listDirectory(Paths.join(walDirectory, "archive_status"))) ?? []
        let recorded = status.recorded()
        if PushAheadPlan.segments(statusNames: statusNames, current: name, limit: .max).contains(where: { !recorded.contains($0) }) {
            warning = startWorker(context, walDirectory)
        }
        return Outcome(result: Result { try ArchivePush(context: context).run(walPath: walPath, events: events) }, confirmed: false, warning: warning)
    }

    private func confirmedResult(status: PushAheadStatus, walPath: String, segment: String, stores: [String]) -> Outcome? {
        guard let sha = status.confirm(walPath: walPath, segment: segment, stores: stores), let file = WALFileName(segment),
            let size = try? FileSystem.size(walPath)
        else { return nil }
        return Outcome(
            result: .success(ArchivePushResult(file: file, sha256: sha, originalSize: size, stored: [], alreadyPresentIn: stores)),
            confirmed: true, warning: nil)
    }
}

/// Push-ahead, the worker's side (`walvault push-ahead`, started by archive-push): stores every
/// `.ready` segment PostgreSQL has not asked for yet, oldest first, `[performance] push_parallel`
/// at a time, each by the same `ArchivePush` (every check, every sync store, the async queues)
/// with zstd in the pushing thread, and writes its `PushAheadStatus` entry once it is durable
/// everywhere. It takes new `.ready` files as they come and exits when none is left. One worker
/// runs at a time. `kill -9` at any moment: an entry exists only for a segment already stored
/// everywhere; a segment whose push was cut is pushed by PostgreSQL's own call.
public struct PushAheadWorker {
    public let context: WalvaultContext
    public let walDirectory: String

    public struct Pushed {
        public let segment: String
        public let result: Result<ArchivePushResult, Error>
        public let events: [OperationEvent]
    }

    public init(context: WalvaultContext, walDirectory: String) {
        self.context = context
        self.walDirectory = walDirectory
    }

    /// - Parameter each: called for every push, from the thread that made it.
    /// - Returns: the segments stored and recorded.
    @discardableResult
    public func run(each: @escaping @Sendable (Pushed) -> Void = { _ in }) -> Int {
        guard let status = PushAheadStatus(context) else { return 0 }
        guard (try? FileSystem.makeDirectories(status.directory, mode: 0o700)) != nil,
            let worker = try? FileDescriptor.tryLocking(status.workerLockPath)
        else { return 0 }
        _ = ftruncate(worker.raw, 0)
        try? worker.writeAll(Array("\(getpid())\n".utf8))
        defer { try? worker.close() }
        let stores = context.syncStores.map(\.name)
        let shared = context
        var total = 0
        while true {
            status.removeStale(walDirectory: walDirectory)
            let statusNames = (try? FileSystem.listDirectory(Paths.join(walDirectory, "archive_status"))) ?? []
            let recorded = status.recorded()
            let candidates = PushAheadPlan.segments(statusNames: statusNames, current: "", limit: .max).filter { !recorded.contains($0) }
            guard !candidates.isEmpty else { break }
            let done = Atomic<Int>(0)
            let directory = walDirectory
            // A segment that fails is PostgreSQL's own call's to push and report: the others go on,
            // and no job throws, so neither does the pool.
            try? ParallelJobs(doing: "pushing ahead").run(count: candidates.count, workers: shared.config.performance.pushParallel) { _, i in
                let segment = candidates[i]
                // PostgreSQL's call is pushing it, or it was recorded meanwhile.
                guard let lock = status.lock(segment: segment, wait: false) else { return }
                defer { try? lock.close() }
                guard !status.recorded().contains(segment) else { return }
                let path = Paths.join(directory, segment)
                let log = EventLog()
                var push = ArchivePush(context: shared)
                push.compressionThreads = 0
                let result = Result { try push.run(walPath: path, events: log) }
                // Only now, with the segment in every sync store (and queued for the async ones);
                // one that was there already needs no entry: PostgreSQL's call finds it stored.
                if case .success(let pushed) = result, !pushed.stored.isEmpty, let identity = FileSystem.identity(of: path),
                    (try? status.record(segment: segment, sha256: pushed.sha256, stores: stores, identity: identity)) != nil
                {
                    done.add(1, ordering: .relaxed)
                }
                each(Pushed(segment: segment, result: result, events: log.events))
            }
            let pushed = done.load(ordering: .relaxed)
            total += pushed
            // Nothing could be pushed (every one failed, or PostgreSQL's calls hold them): stop;
            // the next archive-push starts a worker again.
            guard pushed > 0 else { break }
        }
        return total
    }
}

/// Starts `walvault push-ahead` in the background when no worker holds the lock (one that does
/// takes the new `.ready` files itself).
public enum PushAheadLauncher {
    public static func startIfIdle(context: WalvaultContext, walDirectory: String) -> String? {
        guard let status = PushAheadStatus(context), let spool = try? context.trustedSpool else { return nil }
        do {
            try FileSystem.makeDirectories(status.directory, mode: 0o700)
            guard try !BackgroundLauncher.isRunning(lockPath: status.workerLockPath) else { return nil }
        } catch {
            return "push-ahead: cannot use \(status.directory) (\(error)); the backlog is pushed one segment per call"
        }
        return context.launcher.start(
            context: context, arguments: ["push-ahead", "--wal-directory", walDirectory],
            log: Paths.join(spool, "push-ahead.log"), what: "walvault push-ahead")
    }
}
