import Dispatch
import Synchronization
import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultPolicy
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `walvault ship`: sends what archive-push and backup queued for the async stores, oldest first,
/// several at a time, each object copied byte for byte from a sync store and verified on the way
/// (`ObjectCopier`). One shipper at a time, under a lock in the spool; a queue entry is removed
/// only after the async store holds its object, so a kill at any moment loses nothing.
public struct Ship: Sendable {
    public let context: WalvaultContext
    /// Stops shipping between objects: what is not yet durable stays queued, and `run` returns
    /// (with `follow` too) with `cancelled` set.
    public var cancellation = Cancellation.never
    let groups: ShipGroups

    public init(context: WalvaultContext) {
        self.context = context
        groups = ShipGroups(context: context)
    }

    public struct Report: Equatable, Sendable {
        public var shipped = 0
        public var bytes = 0
        /// Objects already in the async store (shipped before a crash, or by catch-up).
        public var alreadyThere = 0
        /// Entries dropped because no sync store holds their object any more.
        public var dropped: [String] = []
        /// One line per object that could not be shipped this time.
        public var failures: [String] = []
        /// Entries still queued, per store.
        public var remaining: [String: Int] = [:]
        /// Another shipper held the lock: this one did nothing.
        public var busy = false
        /// It stopped because it was cancelled; the queues keep the rest.
        public var cancelled = false
        /// Objects that async stores made durable, in order (for the history table).
        public var stored: [Shipped] = []
        /// Objects dropped from a store's catalog whose bytes the service kept (Telegram, after 48 hours).
        public var leftBehind: [String: String] = [:]
        /// Per async store, the first failure of this pass (for alerts: one streak per store).
        public var failedStores: [String: String] = [:]
        /// Async stores that took at least one object this pass: they work.
        public var workingStores: Set<String> = []
        /// Multipart uploads older than a day, left by writers killed half-way, aborted.
        public var abortedUploads = 0
    }

    public struct Shipped: Equatable, Sendable {
        public let store: String
        public let key: String
        public let size: Int
        /// The service's handle (a Telegram file_id) where it has one.
        public let handle: String?
    }

    /// Queue entries whose objects a `.deferredCommit` store took but has not made durable yet:
    /// kept in the queue (a crash ships them again), and out of the next rounds.
    package final class Unflushed: @unchecked Sendable {
        package struct Item {
            package let entry: ShippingQueue.Entry
            package let key: String
            package let bytes: Int
        }
        private let items = Mutex<[String: (since: Int64, items: [Item])]>([:])

        package func add(store: String, _ item: Item) {
            items.withLock { all in
                var slot = all[store] ?? (WallClock.nowMicros(), [])
                slot.items.append(item)
                all[store] = slot
            }
        }

        package func names(store: String) -> Set<String> { items.withLock { Set(($0[store]?.items ?? []).map(\.entry.fileName)) } }
        package func count(store: String) -> Int { items.withLock { $0[store]?.items.count ?? 0 } }
        package func oldestAge(store: String) -> Double {
            items.withLock { all in all[store].map { Double(WallClock.nowMicros() - $0.since) / 1_000_000 } ?? 0 }
        }
        package func take(store: String) -> [Item] { items.withLock { $0.removeValue(forKey: store)?.items ?? [] } }
    }

    public static func lockPath(spool: String) -> String { ShipLauncher.lockPath(spool: spool) }

    /// One pass over every async store's queue (and, after an overflow, a catch-up from listings);
    /// with `follow`, forever, waking every `interval` seconds.
    /// - Parameter flushed: called after each time an async store made objects durable, with
    ///   them (with `follow`, `run` never returns, so history is recorded from here).
    /// - Parameter sweepUploads: abort abandoned multipart uploads first (and hourly with `follow`);
    ///   off for a caller that only wants its own object shipped now.
    public func run(
        follow: Bool = false, interval: Double = 1, sweepUploads: Bool = true, progress: (String) -> Void = { _ in },
        flushed: ([Shipped]) -> Void = { _ in }, passed: (Report) -> Void = { _ in }
    ) throws -> Report {
        guard let spool = try context.trustedSpool, !context.asyncIndexes.isEmpty, !context.syncStores.isEmpty else {
            return Report()
        }
        var total = Report()
        let unflushed = Unflushed()
        var attempt = 0
        var lastSweep: Int64 = sweepUploads ? 0 : .max
        while true {
            let lock: FileDescriptor
            do {
                guard let taken = try FileDescriptor.tryLocking(Self.lockPath(spool: spool)) else { return attempt == 0 ? Report(busy: true) : total }
                lock = taken
            } catch let error as SystemError {
                throw CommandError(
                    cause: error, problem: "cannot lock \(Self.lockPath(spool: spool)): \(error.reason)",
                    fix: error.hint ?? "check the spool's permissions")
            }
            attempt += 1
            let started = WallClock.nowMicros()
            var report = Report()
            repeat {
                if lastSweep != .max, WallClock.nowMicros() - lastSweep > 3_600_000_000 {
                    total.abortedUploads += abortAbandonedUploads(progress: progress)
                    lastSweep = WallClock.nowMicros()
                }
                report = try pass(spool: spool, unflushed: unflushed, follow: follow, progress: progress)
                if !report.stored.isEmpty { flushed(report.stored) }
                passed(report)
                total.stored += report.stored
                total.leftBehind.merge(report.leftBehind) { a, _ in a }
                total.shipped += report.shipped
                total.bytes += report.bytes
                total.alreadyThere += report.alreadyThere
                total.dropped += report.dropped
                total.failures = report.failures
                total.remaining = report.remaining
                if follow {
                    let idle = report.shipped + report.alreadyThere == 0
                    pause(seconds: idle || !report.failures.isEmpty ? interval : 0.05)
                }
            } while follow && !cancellation.isCancelled
            try? lock.close()
            if cancellation.isCancelled {
                total.cancelled = true
                return total
            }
            // An archive-push that queued while this shipper held the lock started no shipper of
            // its own: look once more after letting go, unless this pass was failing anyway.
            guard report.failures.isEmpty, try newestEntry(spool: spool).map({ $0 >= started }) == true else { return total }
        }
    }

    /// Sleeps in short steps, so a cancellation is seen within a tenth of a second.
    private func pause(seconds: Double) {
        var left = seconds
        while left > 0, !cancellation.isCancelled {
            usleep(useconds_t(min(left, 0.1) * 1_000_000))
            left -= 0.1
        }
    }

    /// Every store's uploads under this cluster that a killed writer left, begun more than a day
    /// ago (none still running takes that long). A store that cannot be asked is skipped: this is
    /// housekeeping, and the shipping pass reports the store's trouble itself.
    package func abortAbandonedUploads(progress: (String) -> Void) -> Int {
        let dayAgo = WallClock.nowMicros() - 86_400_000_000
        var aborted = 0
        for store in context.rawStores {
            guard let count = try? store.abortAbandonedUploads(under: context.config.cluster.name, begunBefore: dayAgo), count > 0 else { continue }
            progress("store \"\(store.name)\": aborted \(count) multipart upload\(count == 1 ? "" : "s") left unfinished for more than a day")
            aborted += count
        }
        return aborted
    }

    /// When the newest entry of any async store's queue was written (µs), nil when all are empty.
    package func newestEntry(spool: String) throws -> Int64? {
        try context.asyncIndexes.compactMap { index in
            try ShippingQueue.open(spool: spool, store: context.rawStores[index].name).entries().map(\.queuedAt).max()
        }.max()
    }

    /// Until the queues are empty or a round makes no progress; a deferred-commit store is then
    /// flushed when `ShipPlan.flushDue` says (without `follow`, this pass waits for that).
    package func pass(spool: String, unflushed: Unflushed = Unflushed(), follow: Bool = false, progress: (String) -> Void) throws -> Report {
        var report = Report()
        for index in context.asyncIndexes {
            let target = context.rawStores[index]
            let queue = try ShippingQueue.open(spool: spool, store: target.name)
            queue.removeAbandonedTemporaries()
            do {
                let shippedBefore = report.shipped
                try ensureBinding(target: target, report: &report)
                if report.shipped > shippedBefore, target.capabilities.contains(.deferredCommit) { _ = try target.flush() }
                if FileSystem.exists(queue.overflowMarker) {
                    let added = try catchUp(target: target, queue: queue)
                    progress("store \"\(target.name)\": the queue had overflowed; \(added) objects found missing by listing were queued")
                    try? FileSystem.remove(queue.overflowMarker)
                }
            } catch let error as StoreError {
                // This store is unreachable or refuses: the others are still shipped to.
                report.failures.append("store \"\(target.name)\": \(error.problem)")
                report.failedStores[target.name] = report.failedStores[target.name] ?? "\(error)"
                report.remaining[target.name] = try queue.entries().count
                continue
            }
            let failuresBefore = report.failures
            let deferred = target.capabilities.contains(.deferredCommit)
            while !cancellation.isCancelled {
                while !cancellation.isCancelled {
                    let before = report.shipped + report.alreadyThere + report.dropped.count
                    report.failures = failuresBefore
                    try round(queue: queue, target: target, unflushed: unflushed, report: &report, progress: progress)
                    let left = try queue.entries().count - unflushed.count(store: target.name)
                    report.remaining[target.name] = left
                    if left == 0 || report.shipped + report.alreadyThere + report.dropped.count == before { break }
                }
                guard deferred else { break }
                let waiting = unflushed.names(store: target.name)
                let newest = try queue.entries().map(\.queuedAt).max()
                let due = ShipPlan.flushDue(
                    unflushed: waiting.count, oldestUnflushedAge: unflushed.oldestAge(store: target.name),
                    newestQueuedAge: newest.map { Double(WallClock.nowMicros() - $0) / 1_000_000 },
                    failed: report.failures.count > failuresBefore.count)
                if due {
                    let failuresBefore = report.failures.count
                    flush(target: target, queue: queue, unflushed: unflushed, report: &report, progress: progress)
                    // Segments queued while the flush waited on Telegram go in this pass too.
                    if report.failures.count == failuresBefore, !follow, try !queue.entries().isEmpty { continue }
                    break
                }
                if follow || waiting.isEmpty { break }
                usleep(250_000)
            }
            report.remaining[target.name] = try queue.entries().count
        }
        return report
    }

    /// Makes what a deferred-commit store took durable, then (only then) drops its queue entries.
    package func flush(target: Store, queue: ShippingQueue, unflushed: Unflushed, report: inout Report, progress: (String) -> Void) {
        let items = unflushed.take(store: target.name)
        do {
            let outcome = try target.flush()
            report.leftBehind.merge(outcome.leftBehind) { a, _ in a }
            for item in items {
                // A flush may leave out an object whose document another writer's expire deleted
                // with its group (a Telegram topic): its entry stays, and it is shipped again.
                guard try target.head(key: item.key) != nil else { continue }
                try queue.remove(item.entry)
                report.stored.append(Shipped(store: target.name, key: item.key, size: item.bytes, handle: target.handle(of: item.key)))
            }
            progress("store \"\(target.name)\": \(items.count) objects made durable")
        } catch {
            // The entries stay queued: the next run ships them again (the store answers
            // "already there" for what it kept).
            report.failures.append("store \"\(target.name)\": \(error)")
            report.failedStores[target.name] = report.failedStores[target.name] ?? "\(error)"
        }
    }

    package func round(queue: ShippingQueue, target: Store, unflushed: Unflushed = Unflushed(), report: inout Report, progress: (String) -> Void)
        throws
    {
        var items: [(entry: ShippingQueue.Entry, key: String)] = []
        let waiting = unflushed.names(store: target.name)
        for entry in try queue.entries() where !waiting.contains(entry.fileName) {
            if let key = try queue.key(of: entry) { items.append((entry, key)) }
        }
        let plan = ShipPlan.ready(items)
        if target.capabilities.contains(.groupDeletion) { try groups.refresh() }
        let outcomes = Mutex<[(ShippingQueue.Entry, String, Result<ObjectCopier.Outcome?, Error>)]>([])
        // Once an object fails for a reason another try might not meet (the store is unreachable,
        // after the driver's own retries), the round stops taking new objects: trying the other
        // thousands would only fill the log. The queue keeps them for the next run.
        let storeDown = Atomic<Bool>(false)
        let objects = plan.objects
        let jobs = ParallelJobs(cancellation: cancellation, doing: "shipping")
        do {
            try jobs.run(count: objects.count, workers: context.config.shipping.parallel) { _, i in
                let (entry, key) = objects[i]
                let result = Result { try shipOne(key: key, entry: entry, queue: queue, target: target, unflushed: unflushed) }
                if case .failure(let error as StoreError) = result, error.kind == .transient || error.kind == .auth, error.store == target.name {
                    storeDown.store(true, ordering: .relaxed)
                    jobs.stop()
                }
                outcomes.withLock { $0.append((entry, key, result)) }
            }
        } catch is OperationCancelled {
            // What was shipped is recorded below; the rest stays queued.
        }
        for (entry, key, result) in outcomes.withLock({ $0 }) {
            record(result, key: key, entry: entry, target: target, report: &report, progress: progress)
        }
        if storeDown.load(ordering: .relaxed) || cancellation.isCancelled { return }
        // Manifests last, and only when nothing older is still queued before them.
        let stillQueued = Set(try queue.entries().map(\.fileName))
        let remainingObjects = objects.filter { stillQueued.contains($0.entry.fileName) }
        for (entry, key) in plan.manifests where remainingObjects.allSatisfy({ entry < $0.entry }) {
            let result = Result { try shipManifest(key: key, entry: entry, queue: queue, target: target, unflushed: unflushed) }
            record(result, key: key, entry: entry, target: target, report: &report, progress: progress)
        }
    }

    package func record(
        _ result: Result<ObjectCopier.Outcome?, Error>, key: String, entry: ShippingQueue.Entry, target: Store,
        report: inout Report, progress: (String) -> Void
    ) {
        switch result {
        case .success(.copied(let bytes)?):
            report.workingStores.insert(target.name)
            if !target.capabilities.contains(.deferredCommit) {
                // Durable now (a deferred store's objects are listed by its flush instead).
                report.stored.append(Shipped(store: target.name, key: key, size: bytes, handle: target.handle(of: key)))
            }
            report.shipped += 1
            report.bytes += bytes
            progress("shipped \(key) to store \"\(target.name)\" (\(bytes) bytes)")
        case .success(.alreadyThere?):
            report.alreadyThere += 1
        case .success(nil):
            report.dropped.append(key)
            progress("dropped \(key) from the queue of store \"\(target.name)\": no sync store holds it any more")
        case .failure(let error):
            report.failures.append("\(key) to store \"\(target.name)\": \(error)")
            report.failedStores[target.name] = report.failedStores[target.name] ?? "\(error)"
        }
    }

    /// nil: no sync store has the object, so the entry is dropped.
    package func shipOne(key: String, entry: ShippingQueue.Entry, queue: ShippingQueue, target: Store, unflushed: Unflushed) throws -> ObjectCopier
        .Outcome?
    {
        guard let source = try source(of: key) else {
            try queue.remove(entry)
            return nil
        }
        let group = target.capabilities.contains(.groupDeletion) ? try groups.group(of: key, source: source) : nil
        let outcome = try ObjectCopier.copy(key: key, from: source, to: target, group: group) {
            WalvaultContext.wrap($0, keyRing: context.keyRing)
        }
        if target.capabilities.contains(.deferredCommit), case .copied(let bytes) = outcome {
            unflushed.add(store: target.name, .init(entry: entry, key: key, bytes: bytes))
        } else {
            try queue.remove(entry)
        }
        return outcome
    }

    /// A manifest goes only when the target's own listing shows every part (the parts of earlier
    /// backups an incremental reads included) and every WAL segment the backup needs: a store never
    /// shows a backup it cannot restore.
    package func shipManifest(key: String, entry: ShippingQueue.Entry, queue: ShippingQueue, target: Store, unflushed: Unflushed) throws
        -> ObjectCopier.Outcome?
    {
        guard let source = try source(of: key) else {
            try queue.remove(entry)
            return nil
        }
        guard let bytes = try WalvaultContext.wrap(source, keyRing: context.keyRing).readSmall(key: key) else { return nil }
        let manifest = try BackupManifest.decode(bytes)
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        var parts: Set<String> = []
        for label in [manifest.label] + manifest.chain {
            for object in try target.list(directory: layout.backupDirectory(label), namePrefix: "") { parts.insert("\(label)/\(object.name)") }
        }
        var segments: Set<WALSegmentName> = []
        for directory in Set(ShipPlan.requiredSegments(of: manifest).map(\.directoryName)) {
            for object in try target.list(directory: layout.walRoot + "/" + directory, namePrefix: "") {
                if let name = StoredObjectName(object.name), case .segment(let segment)? = WALFileName(name.originalName) { segments.insert(segment) }
            }
        }
        let missing = ShipPlan.missing(for: manifest, partsPresent: parts, segmentsPresent: segments)
        guard missing.isEmpty else {
            throw CommandError(
                problem:
                    "backup \(manifest.label) is not whole in store \"\(target.name)\" yet (missing \(missing.prefix(3).joined(separator: ", "))\(missing.count > 3 ? ", …" : "")), so its manifest waits",
                fix: "they are queued or will be found by the catch-up pass; run walvault ship again")
        }
        return try shipOne(key: key, entry: entry, queue: queue, target: target, unflushed: unflushed)
    }

    /// The first sync store (below encryption) that holds `key`.
    package func source(of key: String) throws -> Store? {
        for (index, store) in context.rawStores.enumerated() where !context.asyncIndexes.contains(index) {
            if try store.head(key: key) != nil { return store }
        }
        return nil
    }

    /// The async store gets the cluster's binding (archive.info and its copy) before anything else.
    /// One that already holds another cluster's binding under this name is refused (its archive
    /// would mix two clusters' WAL), and so is a one-catalog store (a Telegram chat) that holds
    /// another cluster's archive under any name.
    package func ensureBinding(target: Store, report: inout Report) throws {
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        let view = { (store: Store) in WalvaultContext.wrap(store, keyRing: context.keyRing) }
        if target.capabilities.contains(.oneCluster) {
            let others = try target.listSubdirectories(directory: "").filter { $0 != context.config.cluster.name }
            if !others.isEmpty {
                throw StoreError(
                    store: target.name,
                    problem:
                        "\(target.location) holds the archive of cluster \(others.map { "\"\($0)\"" }.joined(separator: ", ")); this is cluster \"\(context.config.cluster.name)\", and nothing of it was shipped",
                    fix: "give each cluster a store of its own (its own Telegram chat)")
            }
        }
        if let theirs = try ArchiveBinding.load(store: view(target), layout: layout), let source = try source(of: layout.infoKey),
            let ours = try ArchiveBinding.load(store: view(source), layout: layout),
            theirs.identity.systemIdentifier != ours.identity.systemIdentifier
        {
            throw StoreError(
                store: target.name,
                problem:
                    "\(layout.infoKey) there belongs to another cluster (system identifier \(theirs.identity.systemIdentifier); this one is \(ours.identity.systemIdentifier)); nothing was shipped",
                fix: "give each cluster a store of its own (its own chat, bucket or path), or this one another [cluster] name")
        }
        for key in [layout.infoKey, layout.infoCopyKey] where try target.head(key: key) == nil {
            guard let source = try source(of: key) else { continue }
            if case .copied = try ObjectCopier.copy(key: key, from: source, to: target, view: view) {
                report.shipped += 1
            }
        }
    }

    /// Queues every object the sync stores hold for this cluster that `target` lacks (WAL,
    /// backups, schema dumps and log exports): after an overflow, and for a store added to an
    /// existing archive (`ship --catch-up`).
    public func catchUp(target: Store, queue: ShippingQueue) throws -> Int {
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        var wanted: [String: StoreObject] = [:]
        var have: Set<String> = []
        func collect(_ store: Store, into: (StoreObject) -> Void) throws {
            try ClusterListing.read(store, layout: layout, backupObjects: true, exports: true).allObjects.forEach(into)
        }
        for (index, store) in context.rawStores.enumerated() where !context.asyncIndexes.contains(index) {
            try collect(store) { wanted[$0.key] = wanted[$0.key] ?? $0 }
        }
        try collect(target) { have.insert($0.key) }
        var queued: Set<String> = []
        for entry in try queue.entries() { if let key = try queue.key(of: entry) { queued.insert(key) } }
        // Oldest archive first, manifests after everything (their entries come last).
        let missing = ShipPlan.queueingOrder(wanted.values.filter { !have.contains($0.key) && !queued.contains($0.key) })
        for object in missing { try queue.enqueue(key: object.key, size: object.size) }
        return missing.count
    }
}
