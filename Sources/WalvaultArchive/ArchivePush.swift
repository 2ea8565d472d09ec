import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// What one archive-push did, for the history table and `--verbose`.
public struct ArchivePushResult: Equatable, Sendable {
    public let file: WALFileName
    public let sha256: String
    public let originalSize: Int
    /// The archive time this run recorded in the object names it wrote (nil when it wrote none).
    public var archivedAt: Int64? = nil
    /// Objects written by this run.
    public let stored: [StoredCopy]
    /// Stores that already held identical content (PostgreSQL re-sent the file).
    public let alreadyPresentIn: [String]
    /// Async stores whose queue now holds the file.
    public var queuedFor: [String] = []
    /// Async stores whose queue was full: the file is safe in the sync stores, and `ship`'s
    /// catch-up pass will find it; said on stderr at most once a minute, and in history.
    public var notQueuedFor: [(store: String, message: String, warnNow: Bool)] = []

    public static func == (a: ArchivePushResult, b: ArchivePushResult) -> Bool {
        a.file == b.file && a.sha256 == b.sha256 && a.originalSize == b.originalSize && a.archivedAt == b.archivedAt && a.stored == b.stored
            && a.alreadyPresentIn == b.alreadyPresentIn && a.queuedFor == b.queuedFor
            && a.notQueuedFor.map(\.message) == b.notQueuedFor.map(\.message)
    }

    public struct StoredCopy: Equatable, Sendable {
        public let store: String
        public let object: StoreObject
    }
}

/// PostgreSQL's archive_command. It returns only when every configured store holds the file
/// durably; any throw makes PostgreSQL keep the segment and retry, so no failure here loses WAL.
public struct ArchivePush {
    public let context: WalvaultContext
    /// zstd's own threads for this push: PostgreSQL's one call uses them; push-ahead's workers,
    /// which push several segments at once, compress each in its own thread (0).
    public var compressionThreads = ZstdCompressStage.defaultWorkers

    public init(context: WalvaultContext) { self.context = context }

    package var config: WalvaultConfig { context.config }

    public func run(walPath: String, events: OperationObserver = IgnoredEvents()) throws -> ArchivePushResult {
        try events.run("archive-push", type: .wal, subject: Paths.basename(walPath), summary: Self.summary) { try push(walPath) }
    }

    package static func summary(_ result: ArchivePushResult) -> (
        stored: [(store: String, key: String, facts: OperationFacts)], facts: OperationFacts?
    ) {
        let stored = result.stored.map { copy in
            (
                copy.store, copy.object.key,
                OperationFacts(
                    objectName: result.file.description, size: result.originalSize, storedSize: copy.object.size,
                    sha256: result.sha256, timeline: Int(result.file.timeline))
            )
        }
        return (stored, nil)
    }

    /// The events `run` reports for this outcome.
    public static func events(walPath: String, outcome: Result<ArchivePushResult, Error>) -> [OperationEvent] {
        let log = EventLog()
        _ = try? log.run("archive-push", type: .wal, subject: Paths.basename(walPath), summary: summary) { try outcome.get() }
        return log.events
    }

    private func push(_ walPath: String) throws -> ArchivePushResult {
        _ = try context.requireSyncStores(for: "archive-push")
        var result = try pushToSyncStores(walPath)
        try queueForAsyncStores(&result)
        return result
    }

    /// Each async store's queue gets the object's key, durably, before archive-push returns; on
    /// every success, re-sends included, since the run that stored it may have died before this.
    package func queueForAsyncStores(_ result: inout ArchivePushResult) throws {
        guard !context.asyncIndexes.isEmpty, try context.trustedSpool != nil else { return }
        let layout = ArchiveLayout(cluster: config.cluster.name)
        let directory = layout.directory(for: result.file)
        let prefix = StoredObjectName.prefix(for: result.file.description)
        var object = result.stored.first?.object
        if object == nil {
            for store in context.syncStores {
                if let found = try store.list(directory: directory, namePrefix: prefix).first {
                    object = found
                    break
                }
            }
        }
        guard let object else { return }
        let outcome = try AsyncQueueing(context: context).enqueue([(object.key, object.size)], what: result.file.description)
        result.queuedFor += outcome.queuedFor
        result.notQueuedFor += outcome.refused.map { ($0.store, $0.message, $0.sayNow) }
    }

    private func pushToSyncStores(_ walPath: String) throws -> ArchivePushResult {
        let baseName = Paths.basename(walPath)
        guard let file = WALFileName(baseName) else {
            throw CommandError(
                problem: "\(walPath) is not a file PostgreSQL archives (a WAL segment, .partial, .history or .backup file)",
                fix: "archive_command must pass %p unchanged: walvault archive-push %p")
        }
        let input: FileDescriptor
        let size: Int
        do {
            input = try FileDescriptor.openRegularFile(walPath)
            size = try input.size()
        } catch let error as SystemError {
            throw CommandError(
                cause: error, problem: "cannot read \(file.kindDescription) \(walPath): \(error.reason)",
                fix: error.hint ?? "check that archive_command passes %p and runs as the cluster's owner")
        }
        let layout = ArchiveLayout(cluster: config.cluster.name)
        let what = "\(file.kindDescription) \(file)"
        if let segment = file.segmentName {
            let identity = try Self.checkSegment(input, name: segment, path: walPath, size: size)
            for store in context.syncStores {
                try ArchiveBinding.ensure(store: store, layout: layout, identity: identity, what: what)
            }
        } else {
            try checkAgainstPGControl(walPath: walPath, layout: layout, what: what)
        }
        if case .history(let timeline) = file {
            try checkTimelineHistory(input, timeline: timeline, path: walPath, layout: layout)
        }

        let directory = layout.directory(for: file)
        let prefix = StoredObjectName.prefix(for: file.description)
        let existing = try context.syncStores.map { try $0.list(directory: directory, namePrefix: prefix) }
        var knownSHA: String?
        if existing.contains(where: { !$0.isEmpty }) {
            // A re-send: judge it by checksum before compressing anything.
            let hashing = HashingStage(next: DiscardSink())
            try readFile(input, path: walPath, into: hashing)
            knownSHA = hashing.hexDigest
            for (store, objects) in zip(context.syncStores, existing) where !objects.isEmpty {
                try Self.requireIdentical(objects, sha256: knownSHA!, file: file, store: store)
            }
        }
        let needing = zip(context.syncStores, existing).filter { $0.1.isEmpty }.map(\.0)
        let present = zip(context.syncStores, existing).filter { !$0.1.isEmpty }.map(\.0.name)
        guard !needing.isEmpty else {
            return ArchivePushResult(file: file, sha256: knownSHA!, originalSize: size, stored: [], alreadyPresentIn: present)
        }

        let writers = try needing.map { try $0.makeWriter(directory: directory) }
        var committed = false
        defer { if !committed { writers.forEach { $0.abort() } } }
        let compression = config.compression
        // No zstd frame checksum: the object's name carries the SHA-256 of these bytes, and every
        // read (archive-get, verify, restore) checks that instead.
        let hashing = HashingStage(
            next: try Compression.compressor(
                compression.algorithm, level: compression.level, sizeHint: size, threads: compressionThreads, frameChecksum: false,
                next: StoreFanOut(writers: writers)))
        if knownSHA != nil { try rewind(input, path: walPath) }
        // Nothing reads an archived segment again (PostgreSQL recycles it; a standby that falls
        // that far behind reads it from disk): its pages go back to the database's cache, as
        // PostgreSQL itself drops them when it closes a segment that nothing archives. Dropped at
        // the end of the read, while zstd's workers finish the last job from their own buffers;
        // a push that fails after that only makes PostgreSQL's retry read it from disk.
        let read = try readFile(input, path: walPath, into: hashing, droppingPagesAtEnd: true)
        let sha = hashing.hexDigest!
        guard read == size, knownSHA == nil || knownSHA == sha else {
            throw CommandError(
                problem: "\(walPath) changed while it was being archived",
                fix: "something other than PostgreSQL is writing to pg_wal; stop it, PostgreSQL will retry")
        }

        // Read whole, so PostgreSQL completed it before now: restore may rely on that.
        let archivedAt = WallClock.nowMicros()
        let objectName = StoredObjectName(
            originalName: file.description, sha256: sha, compression: compression.algorithm,
            archivedAt: archivedAt
        ).description
        var stored: [ArchivePushResult.StoredCopy] = []
        var alsoPresent = present
        for (store, writer) in zip(needing, writers) {
            switch try ObjectPlacement.commit(writer, store: store, directory: directory, name: objectName, unlessPrefixTaken: prefix) {
            case .stored(let object):
                stored.append(.init(store: store.name, object: object))
            case .alreadyPresent(let objects):
                try Self.requireIdentical(objects, sha256: sha, file: file, store: store)
                alsoPresent.append(store.name)
            }
        }
        committed = true
        return ArchivePushResult(
            file: file, sha256: sha, originalSize: size, archivedAt: stored.isEmpty ? nil : archivedAt,
            stored: stored, alreadyPresentIn: alsoPresent)
    }

    /// Proves the file is the complete segment its name says, and returns whose it is.
    package static func checkSegment(_ input: FileDescriptor, name: WALSegmentName, path: String, size: Int) throws -> ClusterIdentity {
        var headerBytes = [UInt8](repeating: 0, count: WALPageHeader.size)
        let got: Int
        do {
            got = try headerBytes.withUnsafeMutableBytes { try input.pread(into: $0, at: 0) }
        } catch let error as SystemError {
            throw CommandError(cause: error, problem: "cannot read WAL segment \(path): \(error.reason)", fix: error.hint ?? "check the disk")
        }
        let header: WALPageHeader
        do {
            header = try WALPageHeader(bytes: Array(headerBytes[0..<got]))
        } catch {
            throw CommandError(
                cause: error, problem: "\(path) is not a valid WAL segment: \(error)",
                fix: "it was not stored; check that this file came from PostgreSQL's pg_wal")
        }
        guard let identity = ClusterIdentity(header: header) else {
            throw CommandError(problem: "\(path): unsupported PostgreSQL version", fix: "use PostgreSQL 13 to 17")
        }
        guard name.isValid(segmentSize: header.segmentSize),
            header.segmentNumber == name.segmentNumber(segmentSize: header.segmentSize)
        else {
            let actual = WALSegmentName(timeline: name.timeline, segmentNumber: header.segmentNumber, segmentSize: header.segmentSize)
            throw CommandError(
                problem: "\(path): its header says it is segment \(actual.description.suffix(16)) but its name says \(name.description.suffix(16))",
                fix: "it was not stored under the wrong name; check what copied or renamed this file")
        }
        guard size == header.segmentSize else {
            throw CommandError(
                problem: "WAL segment \(path) is truncated: \(size) bytes, expected \(header.segmentSize)",
                fix: "it was not stored; if PostgreSQL wrote it, check the disk and the server log")
        }
        return identity
    }

    /// History and backup files carry no identity. PostgreSQL runs archive_command in the data
    /// directory of the cluster that is archiving, so its pg_control says whose they are;
    /// `[cluster] pgdata` may be a directory that no longer exists (the old one, after a restore
    /// into a new directory), and must never be why archiving stops.
    package func checkAgainstPGControl(walPath: String, layout: ArchiveLayout, what: String) throws {
        guard let pgdata = ArchivingCluster.dataDirectory(walPath: walPath, configured: config.cluster.pgdata) else { return }
        for store in context.syncStores {
            guard let bound = try ArchiveBinding.load(store: store, layout: layout) else { continue }
            let sysid: UInt64
            do {
                sysid = try PGControl.systemIdentifier(pgdata: pgdata)
            } catch let error as SystemError {
                throw CommandError(
                    cause: error, problem: "cannot check which cluster \(what) belongs to: \(error)",
                    fix: "make \(pgdata)/global/pg_control readable to the user running archive_command")
            }
            guard sysid == bound.identity.systemIdentifier else {
                throw CommandError(
                    problem:
                        "\(what) comes from the cluster in \(pgdata) (system identifier \(sysid)), but store \"\(store.name)\" holds cluster \"\(layout.cluster)\" with system identifier \(bound.identity.systemIdentifier)",
                    fix: "set a new [cluster] name for a new or re-initialised cluster, or fix archive_command's --config")
            }
        }
    }

    /// A timeline history is read by every restore that follows timelines: one that PostgreSQL
    /// could not have written, or that contradicts its parent's stored history, is refused here
    /// rather than stored where it would mislead every later restore.
    package func checkTimelineHistory(_ input: FileDescriptor, timeline: UInt32, path: String, layout: ArchiveLayout) throws {
        let bytes: [UInt8]
        do {
            bytes = try input.readToEnd(limit: 1 << 20)
            try input.rewind()
        } catch let error as SystemError {
            throw CommandError(
                cause: error, problem: "cannot read timeline history file \(path): \(error.reason)", fix: error.hint ?? "check the file")
        }
        guard let history = TimelineHistory(timeline: timeline, text: String(decoding: bytes, as: UTF8.self)) else {
            throw CommandError(
                problem:
                    "\(path) is not a valid timeline history file (PostgreSQL writes one line per ancestor timeline: parent timeline below \(timeline), switch point LSN, reason), so it was not stored",
                fix: "check what wrote this file into pg_wal; PostgreSQL keeps it and retries")
        }
        guard let parent = history.ancestors.last?.parent, parent > 1 else { return }
        let parentFile = WALFileName.history(timeline: parent)
        for store in context.syncStores {
            let stored = try store.objects(of: parentFile, layout: layout)
            guard let object = stored.first,
                let parentHistory = TimelineHistory(
                    timeline: parent, text: String(decoding: try ObjectFetcher.fetchSmall(object, from: store), as: UTF8.self))
            else { continue }
            guard history.extends(parentHistory) else {
                throw CommandError(
                    problem:
                        "\(path) contradicts the stored history of its parent timeline \(parent) (\(object.key) in store \"\(store.name)\"), so it is not a history of this cluster's timelines and was not stored",
                    fix: "two clusters may be archiving under one [cluster] name: give each its own name")
            }
            return
        }
    }

    package static func requireIdentical(_ objects: [StoreObject], sha256: String, file: WALFileName, store: Store) throws {
        let names = objects.compactMap { StoredObjectName($0.name) }
        // Every copy must be this content: one other object under the name is a conflict.
        if !names.isEmpty, names.count == objects.count, names.allSatisfy({ $0.sha256 == sha256 }) { return }
        let stored = names.first.map { String($0.sha256.prefix(12)) } ?? "unknown"
        throw CommandError(
            problem:
                "\(file.kindDescription) \(file) is already in store \"\(store.name)\" with different content (stored sha256 \(stored)…, this file \(sha256.prefix(12))…); the stored object was left untouched",
            fix:
                "two servers may be archiving under one [cluster] name, or a restored server is reusing a timeline: find out which copy is right before removing either"
        )
    }

    @discardableResult
    private func readFile(_ input: FileDescriptor, path: String, into sink: ByteSink, droppingPagesAtEnd: Bool = false) throws -> Int {
        do {
            input.adviseSequential()
            return try StreamPump.pump(
                reading: { buffer in
                    let count = try input.read(into: buffer)
                    if count == 0 && droppingPagesAtEnd { input.dropCachedPages() }
                    return count
                }, into: sink)
        } catch let error as SystemError where error.path == path {
            throw CommandError(cause: error, problem: "cannot read \(path): \(error.reason)", fix: error.hint ?? "check the disk")
        } catch let error as PipelineError {
            throw CommandError(cause: error, problem: "cannot compress \(path): \(error)", fix: "check [compression] in \(config.path)")
        }
    }

    private func rewind(_ input: FileDescriptor, path: String) throws {
        do { try input.rewind() } catch let error as SystemError {
            throw CommandError(cause: error, problem: "cannot read \(path): \(error.reason)", fix: "check the disk")
        }
    }
}
