#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import WalvaultCatalog
import WalvaultPipeline
import WalvaultSystem

/// What archive-push has made durable ahead of PostgreSQL's calls: `<spool>/pushed/<cluster>/
/// <segment>-<sha256>`, each holding the names of the sync stores it went to, written (fsynced,
/// renamed, directory fsynced) only after every one of them holds the segment. A later call
/// for that segment hashes pg_wal's file, and returns at once when the checksum and the stores
/// are the same; anything else (no entry, another content, another set of stores) is a normal push.
public struct PushAheadStatus: Sendable {
    public let directory: String

    public init?(_ context: WalvaultContext) {
        guard context.config.performance.pushParallel > 1, let spool = context.config.cluster.spool else { return nil }
        directory = Paths.join(Paths.join(spool, "pushed"), context.config.cluster.name)
    }

    /// - Parameter identity: `FileSystem.identity(of:)` of the file that was hashed and stored.
    func record(segment: String, sha256: String, stores: [String], identity: String) throws {
        try FileSystem.makeDirectories(directory, mode: 0o700)
        try FileSystem.writeAtomically(Paths.join(directory, PushAheadPlan.statusName(segment: segment, sha256: sha256)),
                                       contents: Array(([identity] + stores).joined(separator: "\n").utf8), mode: 0o600)
    }

    /// The segments that have an entry, from one listing.
    func recorded() -> Set<String> {
        Set(((try? FileSystem.listDirectory(directory)) ?? []).filter { !$0.hasPrefix(".") }.map { String($0.prefix(24)) })
    }

    /// The checksum of `walPath` when an entry says it is already in exactly `stores` with that
    /// content: the file is the one hashed then (same identity), or it hashes to the entry's
    /// checksum now. The entry is removed either way once it was looked at.
    func confirm(walPath: String, segment: String, stores: [String]) -> String? {
        guard let name = ((try? FileSystem.listDirectory(directory)) ?? []).first(where: { $0.hasPrefix(segment + "-") && !$0.hasPrefix(".") }) else { return nil }
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

/// Push-ahead: when PostgreSQL calls archive-push for one segment and more are `.ready` in
/// pg_wal/archive_status, they are stored too, `[performance] push_parallel` at a time, each by the
/// same `ArchivePush` (every check, every sync store, the async queues), and each one that is
/// durable everywhere gets a `PushAheadStatus` entry. The exit status depends on the segment asked
/// for only; one pushed ahead that fails is simply pushed again when PostgreSQL asks for it.
/// `kill -9` at any moment: an entry exists only for a segment already stored everywhere.
public struct PushAhead {
    public let context: WalvaultContext
    /// Segments per call beyond the one asked for: `push_parallel` × 4 − 1, so a backlog goes in
    /// batches of a few seconds and PostgreSQL's next calls for them return at once.
    public var batch: Int

    public struct Outcome {
        public let result: Result<ArchivePushResult, Error>
        /// Each segment pushed ahead, with the events of its push (for the history).
        public let ahead: [(segment: String, events: [OperationEvent], ok: Bool)]
        /// The segment asked for was confirmed from a status entry, not pushed again.
        public let confirmed: Bool
    }

    public init(context: WalvaultContext) {
        self.context = context
        batch = context.config.performance.pushParallel * 4 - 1
    }

    public func run(walPath: String, events: OperationObserver) -> Outcome {
        let name = Paths.basename(walPath)
        guard let status = PushAheadStatus(context), case .segment? = WALFileName(name) else {
            return Outcome(result: Result { try ArchivePush(context: context).run(walPath: walPath, events: events) }, ahead: [], confirmed: false)
        }
        let stores = context.syncStores.map(\.name)
        if let sha = status.confirm(walPath: walPath, segment: name, stores: stores), let file = WALFileName(name),
           let size = try? FileSystem.size(walPath) {
            return Outcome(result: .success(ArchivePushResult(file: file, sha256: sha, originalSize: size ?? 0, stored: [], alreadyPresentIn: stores)),
                           ahead: [], confirmed: true)
        }
        let statusNames = (try? FileSystem.listDirectory(Paths.join(Paths.dirname(walPath), "archive_status"))) ?? []
        let recorded = status.recorded()
        let others = PushAheadPlan.segments(statusNames: statusNames, current: name, limit: batch).filter { !recorded.contains($0) }
        let paths = [walPath] + others.map { Paths.join(Paths.dirname(walPath), $0) }
        // One slot per push, each written by the one thread that ran it, read after all have ended.
        let slots = Slots<(Result<ArchivePushResult, Error>, [OperationEvent])>(count: paths.count)
        let next = Atomic<Int>(0)
        let shared = self.context
        DispatchQueue.concurrentPerform(iterations: min(shared.config.performance.pushParallel, paths.count)) { _ in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                guard i < paths.count else { return }
                let log = EventLog()
                let result = Result { try ArchivePush(context: shared).run(walPath: paths[i], events: log) }
                if i > 0, case .success(let pushed) = result, let identity = FileSystem.identity(of: paths[i]) {
                    // Only now, with the segment in every sync store (and queued for the async ones).
                    try? status.record(segment: pushed.file.description, sha256: pushed.sha256, stores: stores, identity: identity)
                }
                slots.set(i, (result, log.events))
            }
        }
        let all = slots.values
        for event in all[0]?.1 ?? [] { events.receive(event) }
        let ahead = others.indices.compactMap { index -> (segment: String, events: [OperationEvent], ok: Bool)? in
            guard let (result, events) = all[index + 1] else { return nil }
            if case .success = result { return (others[index], events, true) }
            return (others[index], events, false)
        }
        return Outcome(result: all[0]!.0, ahead: ahead, confirmed: false)
    }
}

/// Results of parallel work, one slot per item: each written once by the thread that did it, read
/// only after `concurrentPerform` returned (which orders the writes before the read).
final class Slots<T>: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<T?>

    init(count: Int) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: nil)
    }

    deinit {
        storage.deinitialize()
        storage.deallocate()
    }

    func set(_ index: Int, _ value: T) { storage[index] = value }

    var values: [T?] { Array(storage) }
}
