import Dispatch
import Synchronization
import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The background half of archive-get's look-ahead (`walvault prefetch`, started by archive-get):
/// keeps the `[performance] prefetch` segments after the one PostgreSQL asked for last fetched,
/// verified against their names and decompressed in the spool, a few at a time so network round
/// trips overlap. One per spool (a lock); it stays while requests keep coming and leaves after a
/// quiet moment. A segment no store has (the end of the archive) is simply not there; a damaged
/// one is left for archive-get, which reports it. `kill -9` at any moment leaves at most a
/// temporary file (removed by the next worker): a file gets its final name only once verified.
public struct Prefetcher: Sendable {
    public let context: WalvaultContext
    public let spool: PrefetchSpool
    public let systemIdentifier: UInt64
    public var parallel = 4
    /// How long a worker with nothing to do waits for the next request before it leaves.
    public var lingerSeconds = 2.0

    public init(context: WalvaultContext, spool: PrefetchSpool, systemIdentifier: UInt64) {
        self.context = context
        self.spool = spool
        self.systemIdentifier = systemIdentifier
    }

    /// - Returns: the segments it fetched; 0 at once when another worker holds the spool.
    @discardableResult
    public func run() throws -> Int {
        try FileSystem.makeDirectories(spool.directory, mode: 0o700)
        let lockPath = Paths.join(spool.directory, ".lock")
        guard var lock = try FileDescriptor.tryLocking(lockPath) else { return 0 }
        for name in try FileSystem.listDirectory(spool.directory) where name.hasPrefix(".tmp-") {
            try? FileSystem.remove(Paths.join(spool.directory, name))
        }
        guard let segmentSize = try segmentSize() else { return 0 }
        var total = 0
        while true {
            var wanted = spool.wanted()
            let fetched = fetchAhead(segmentSize: segmentSize)
            total += fetched
            if fetched > 0 || spool.wanted() != wanted { continue }
            // Nothing to do: wait a little for PostgreSQL's next request, then leave. After the
            // lock is released, one more look: a request written while it was still held started
            // no worker (archive-get saw the lock taken), so this one must not miss it.
            let quiet = Stopwatch()
            while quiet.seconds < lingerSeconds && spool.wanted() == wanted { usleep(20_000) }
            if spool.wanted() != wanted { continue }
            try lock.close()
            wanted = spool.wanted()
            usleep(1_000)
            if spool.wanted() == wanted { return total }
            guard let again = try FileDescriptor.tryLocking(lockPath) else { return total }
            lock = again
        }
    }

    /// The archive's segment size, from the first store bound to this cluster; nil (and nothing
    /// prefetched) when none is, or when the stores hold another cluster.
    private func segmentSize() throws -> Int? {
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        for store in context.stores {
            guard let info = try? ArchiveBinding.load(store: store, layout: layout) else { continue }
            return info.identity.systemIdentifier == systemIdentifier ? info.identity.walSegmentSize : nil
        }
        return nil
    }

    /// Keeps the window after PostgreSQL's latest request filled on `parallel` threads, each taking
    /// the next segment nobody has or is fetching as soon as it is done with one, so the window
    /// moves on with the requests instead of in batches. A segment that cannot be fetched (the end
    /// of the archive) is not tried again in this pass. - Returns: how many are now ready.
    package func fetchAhead(segmentSize: Int) -> Int {
        let claimed = Mutex<Set<String>>([])
        let ready = Atomic<Int>(0)
        let worker = self
        // fetchOne never throws (a segment it cannot fetch is left for archive-get), so neither does this.
        try? ParallelJobs(doing: "prefetching").run(workers: parallel, next: { worker.nextTarget(claimed: claimed, segmentSize: segmentSize) }) {
            segment in
            if worker.fetchOne(segment, segmentSize: segmentSize) { ready.add(1, ordering: .relaxed) }
        }
        return ready.load(ordering: .relaxed)
    }

    /// The first segment of the window after the latest request that is neither in the spool nor
    /// claimed by another thread; claimed for the caller.
    private func nextTarget(claimed: borrowing Mutex<Set<String>>, segmentSize: Int) -> WALSegmentName? {
        guard let request = spool.wanted(), let segment = WALSegmentName(request) else { return nil }
        let present = Set(((try? FileSystem.listDirectory(spool.directory)) ?? []).compactMap { PrefetchPlan.parse($0)?.segment })
        let window = PrefetchPlan.targets(after: segment, count: context.config.performance.prefetch, segmentSize: segmentSize)
        return claimed.withLock { taken -> WALSegmentName? in
            guard let next = window.first(where: { !present.contains($0.description) && !taken.contains($0.description) }) else { return nil }
            taken.insert(next.description)
            return next
        }
    }

    /// One segment from the first store that has it intact, under a temporary name, then renamed
    /// to `<segment>-<sha256>`. Whatever goes wrong, nothing is left under a final name.
    package func fetchOne(_ segment: WALSegmentName, segmentSize: Int) -> Bool {
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        let file = WALFileName.segment(segment)
        for store in context.stores {
            guard case .one(let object, let name)? = try? store.copyToRead(of: file, layout: layout) else { continue }
            let temporary = Paths.join(spool.directory, ".tmp-\(segment)-\(getpid())")
            do {
                let out = try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600)
                let size = try ObjectFetcher.fetch(object, from: store, into: FileSink(file: out))
                guard size == segmentSize else { throw SystemError("fetch (not a whole segment)", path: object.key, code: EIO) }
                try out.close()
                let final = PrefetchPlan.fileName(segment: segment.description, sha256: name.sha256)
                try FileSystem.rename(temporary, to: Paths.join(spool.directory, final))
                // Its identity now, once renamed: archive-get skips the second hash while it is unchanged.
                if let identity = FileSystem.identity(of: Paths.join(spool.directory, final)) {
                    let sidecar = try? FileDescriptor.open(
                        Paths.join(spool.directory, ".id-" + final), flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600)
                    try? sidecar?.writeAll(Array(identity.utf8))
                }
                return true
            } catch {
                try? FileSystem.remove(temporary)
            }
        }
        return false
    }
}

/// Starts `walvault prefetch` in the background when archive-get has recorded a request and no
/// worker holds the spool's lock (one that does sees the request itself).
public enum PrefetchLauncher {
    @discardableResult
    public static func startIfIdle(context: WalvaultContext, spool: PrefetchSpool, systemIdentifier: UInt64) -> String? {
        do {
            try FileSystem.makeDirectories(spool.directory, mode: 0o700)
            guard try !BackgroundLauncher.isRunning(lockPath: Paths.join(spool.directory, ".lock")) else { return nil }
        } catch {
            return "prefetch: cannot use \(spool.directory) (\(error)); segments are fetched one at a time"
        }
        guard let root = try? context.trustedSpool else { return nil }
        return context.launcher.start(
            context: context, arguments: ["prefetch", "--system-identifier", String(systemIdentifier)],
            log: Paths.join(root, "prefetch.log"), what: "walvault prefetch")
    }
}
