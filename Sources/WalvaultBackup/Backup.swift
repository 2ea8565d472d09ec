import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultPipeline
import WalvaultPolicy
import WalvaultPostgres
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

public struct BackupReport: Equatable, Sendable {
    public let manifest: BackupManifest
    /// Why this level: the rules of `[backup]`, or `--type`.
    public var reason = ""
    /// Wall-clock seconds from pg_backup_start to the manifest being written.
    public let seconds: Double
    /// Async stores whose queues now hold the backup.
    public var queuedFor: [String] = []
    public var throughputMBps: Double { seconds > 0 ? Double(manifest.totalSize) / 1_000_000 / seconds : 0 }
}

/// A full physical base backup with PostgreSQL's non-exclusive low-level API: walvault reads the
/// data directory itself (so every file gets its own checksum and parts stay small), while one
/// libpq session holds the backup open. See docs/architecture.md for why not BASE_BACKUP.
public struct Backup {
    public static let walvaultVersion = WalvaultVersion.number

    public let context: WalvaultContext
    /// How long to wait for the WAL that makes the backup consistent to reach the stores.
    public var walTimeoutSeconds: Double = 300
    public var partSize = BackupPacker.defaultPartSize
    /// `--type`; nil lets `[backup]`'s rules choose (BackupLevelPlanner).
    public var level: BackupLevel?
    /// The database side, opened from `[cluster] conninfo`; tests give a fake.
    public var openSession: (String) throws -> BackupSession = { try PostgresBackupSession(conninfo: $0) }

    public init(context: WalvaultContext) { self.context = context }

    public func run(events: OperationObserver = IgnoredEvents()) throws -> BackupReport {
        try events.run("backup", type: .database, summary: summary) {
            try backUp(events: events, progress: { events.receive(.progressed(note: $0)) }, warn: { events.receive(.warning($0)) })
        }
    }

    /// A row per store: the backup's directory there, its sizes and the manifest's checksum.
    package func summary(_ report: BackupReport) -> (stored: [(store: String, key: String, facts: OperationFacts)], facts: OperationFacts?) {
        let m = report.manifest
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        let facts = OperationFacts(
            objectName: m.label, size: m.totalSize, storedSize: m.storedSize,
            sha256: (try? m.encoded()).map { SHA256Hasher.hex(of: $0) }, systemIdentifier: m.systemIdentifier,
            timeline: Int(m.timeline), startLSN: m.startLSN.description, stopLSN: m.stopLSN.description)
        return (context.syncStores.map { ($0.name, layout.backupDirectory(m.label), facts) }, nil)
    }

    private func backUp(events: OperationObserver, progress: (String) -> Void, warn: (String) -> Void) throws -> BackupReport {
        let config = context.config
        try events.cancellation.check("starting the backup")
        // Shared with restores, exclusive for expire: nothing this backup reads or writes goes away.
        let lock = try ClusterLock.acquire(.shared, config: config)
        defer { _ = lock }
        guard walTimeoutSeconds.isFinite, walTimeoutSeconds > 0 else {
            throw CommandError(problem: "the WAL timeout \(walTimeoutSeconds) is not a positive number of seconds", fix: "give a timeout such as 300")
        }
        _ = try context.requireSyncStores(for: "backup")
        guard let conninfo = config.cluster.conninfo else {
            throw CommandError(
                problem: "config \(config.path): [cluster] conninfo is not set",
                fix: "backup needs a connection to the server, e.g. conninfo = \"host=/var/run/postgresql dbname=postgres\"")
        }
        guard let pgdata = config.cluster.pgdata else {
            throw CommandError(
                problem: "config \(config.path): [cluster] pgdata is not set", fix: "backup reads the data directory; set pgdata to it")
        }
        let session = try openSession(conninfo)
        let facts = try session.facts()
        try Self.checkReady(facts, pgdata: pgdata)
        let layout = ArchiveLayout(cluster: config.cluster.name)
        try checkArchiver(facts, layout: layout).forEach(warn)
        for store in context.syncStores {
            if let bound = try ArchiveBinding.load(store: store, layout: layout), String(bound.identity.systemIdentifier) != facts.systemIdentifier {
                throw CommandError(
                    problem:
                        "store \"\(store.name)\" holds cluster \"\(layout.cluster)\" with system identifier \(bound.identity.systemIdentifier), but the server at conninfo is \(facts.systemIdentifier)",
                    fix: "point [cluster] at the right server, or use a new [cluster] name for this one")
            }
        }

        try events.cancellation.check("preparing the backup")
        let now = try session.clockMicros()
        let (decision, prior) = try choosePrior(systemIdentifier: facts.systemIdentifier, now: now, layout: layout, warn: warn)
        progress("\(decision.level.rawValue) backup: \(decision.reason)")
        let label = try uniqueLabel(layout: layout, now: BackupLabel.make(now))
        let clock = Stopwatch()
        let startText = try session.start(label: "walvault \(label)")
        guard let startLSN = LSN(startText) else {
            throw CommandError(problem: "pg_backup_start returned \"\(startText)\", not an LSN", fix: "see the server log")
        }
        let startTime = try session.clockMicros()
        progress("backup \(label) started at \(startLSN)")

        let copier = BackupCopier(
            stores: context.syncStores, directory: layout.backupDirectory(label), compression: config.compression,
            partSize: partSize, parallel: config.performance.backupParallel, prior: prior)
        var manifest: BackupManifest
        do {
            manifest = try copyAndWait(
                label: label, startLSN: startLSN, startTime: startTime, facts: facts, pgdata: pgdata, layout: layout,
                copier: copier, session: session, events: events, progress: progress, level: decision.level, prior: prior)
        } catch {
            copier.abort()
            throw BackupFailure(underlying: error, cleanup: removeParts(of: label, layout: layout))
        }

        // The manifest goes last: only now is the backup usable, and visible as such.
        manifest.entries.sort { $0.path < $1.path }
        let bytes = try manifest.encoded()
        for store in context.syncStores {
            guard try store.createSmall(key: layout.manifestKey(label), contents: bytes) else {
                throw CommandError(
                    problem: "store \"\(store.name)\" already has a manifest for backup \(label)",
                    fix: "another backup with this label finished first; retry")
            }
            _ = try store.createSmall(key: layout.manifestCopyKey(label), contents: bytes)
        }
        var report = BackupReport(manifest: manifest, seconds: clock.seconds)
        report.reason = decision.reason
        report.queuedFor = try queueForAsyncStores(label: label, layout: layout, warn: warn)
        return report
    }

    /// Copies the files, stops the backup and waits for its WAL: everything before the manifest.
    private func copyAndWait(
        label: String, startLSN: LSN, startTime: Int64, facts: ServerFacts, pgdata: String, layout: ArchiveLayout,
        copier: BackupCopier, session: BackupSession, events: OperationObserver,
        progress: (String) -> Void, level: BackupLevel, prior: PriorBackup?
    ) throws -> BackupManifest {
        let config = context.config
        let (items, tablespaces) = try DataDirectoryWalker(root: pgdata).walk()
        var copied = try copier.copy(items, events: events)
        // pg_control last of all files (see BackupExclusions.controlFile).
        let control = Paths.join(pgdata, BackupExclusions.controlFile)
        guard let controlStatus = try FileSystem.status(control),
            let controlEntry = try copier.copyLast(path: control, relative: BackupExclusions.controlFile, mode: controlStatus.mode)
        else {
            throw CommandError(problem: "\(control) is missing", fix: "check that [cluster] pgdata is the server's data directory")
        }
        copied.append(controlEntry)
        let parts = try copier.finish()
        let (entries, references) = try Self.placeRanges(copied, prior: prior)

        let stop = try session.stop()
        guard let stopLSN = LSN(stop.lsn) else {
            throw CommandError(problem: "pg_backup_stop returned \"\(stop.lsn)\", not an LSN", fix: "see the server log")
        }
        let labelFile = stop.labelFile
        let stopTime = try session.clockMicros()
        let timeline = Self.timeline(fromLabel: labelFile) ?? 1

        let manifest = BackupManifest(
            label: label, cluster: layout.cluster, systemIdentifier: facts.systemIdentifier, postgresVersion: facts.versionNumber,
            walSegmentSize: facts.walSegmentSize, timeline: timeline, startLSN: startLSN, stopLSN: stopLSN,
            startTime: startTime, stopTime: stopTime, walvaultVersion: Self.walvaultVersion,
            compression: config.compression.algorithm.rawValue, backupLabel: labelFile,
            tablespaceMap: stop.tablespaceMap, tablespaces: tablespaces, parts: parts.data, entries: entries, type: level,
            prior: prior?.manifest.label, mapParts: parts.maps, references: references)
        try manifest.checkRanges()
        progress(
            "read \(manifest.totalSize) bytes, stored \(manifest.parts.reduce(0) { $0 + $1.size }) of them in \(manifest.parts.count) parts; waiting for WAL \(manifest.startSegment()) to \(manifest.stopSegment()) to be archived"
        )
        try waitForWAL(manifest: manifest, layout: layout, session: session, events: events)
        // The last moment a cancellation can undo the backup: after it, the manifest makes it whole.
        try events.cancellation.check("waiting for the backup's WAL")
        return manifest
    }

    /// The level the rules give, and the prior it builds on, read from every readable store (an
    /// incremental may build on a backup in another store than its own).
    private func choosePrior(systemIdentifier: String, now: Int64, layout: ArchiveLayout, warn: (String) -> Void) throws -> (
        BackupLevelPlanner.Decision, PriorBackup?
    ) {
        let inventory = try Inventory.read(stores: context.stores, layout: layout, skippingUnreadable: true)
        let readable = context.stores.filter { inventory.unreadableStores[$0.name] == nil }
        // A backup missing a part it restores from (its own, or one of a backup it reads) is no
        // prior: an incremental on it would be broken from the start.
        let listings = try inventory.listingsWithBackupObjects(stores: readable, layout: layout)
        let present = ClusterListing.objectNamesByBackup(listings.values)
        var intact: [BackupManifest] = []
        for manifest in inventory.backups {
            let missing = manifest.missingParts(present: present)
            if missing.isEmpty {
                intact.append(manifest)
            } else if level != .full {
                warn(
                    "backup \(manifest.label) is not built on: \(missing.count) part(s) it needs are in no store (\(missing[0])); walvault verify names them"
                )
            }
        }
        let settings = context.config.backup
        let decision = BackupLevelPlanner.decide(
            requested: level, candidates: intact.map(BackupLevelPlanner.Candidate.init), systemIdentifier: systemIdentifier,
            fullEveryDays: settings.fullEveryDays, maxChain: settings.maxChain, now: now)
        guard let label = decision.prior, intact.contains(where: { $0.label == label }) else { return (decision, nil) }
        let manifest: BackupManifest
        do {
            manifest = try inventory.manifest(label, layout: layout)
        } catch let error as CatalogError {
            warn("\(error.problem); taking a full backup instead")
            return (.init(level: .full, prior: nil, reason: "the manifest of \(label), the prior, cannot be read again", chainLength: 1), nil)
        }
        do {
            // Its block maps are found in the listings just read, not listed again.
            let directories = readable.compactMap { store in listings[store.name].map { (store, $0.backupObjects[label] ?? []) } }
            let prior = try PriorBackup(
                manifest: manifest, directories: directories, layout: layout, temporaryDirectory: Environment.temporaryDirectory)
            return (decision, prior)
        } catch let error as CommandError {
            // A nightly backup must not fail for want of a prior: a full needs none.
            warn("\(error.problem); taking a full backup instead")
            return (.init(level: .full, prior: nil, reason: "the block maps of \(label), the prior, cannot be read", chainLength: 1), nil)
        }
    }

    /// The manifest's entries with their ranges, and the earlier backups they reference (oldest
    /// first, since labels sort by time) with the parts read from each.
    package static func placeRanges(_ copied: [BackupCopier.Copied], prior: PriorBackup?) throws -> (
        [BackupManifest.Entry], [BackupManifest.Reference]
    ) {
        var used: [String: Set<Int>] = [:]
        for (_, ranges) in copied {
            for range in ranges { if let label = range.label { used[label, default: []].insert(range.part) } }
        }
        let labels = used.keys.sorted()
        var references: [BackupManifest.Reference] = []
        for label in labels {
            let parts = try used[label]!.sorted().map { number -> BackupManifest.Part in
                guard let part = prior?.parts[label]?[number] else {
                    throw CommandError(
                        problem: "the prior backup references part \(number) of \(label), which its manifest does not list",
                        fix: "take a full backup with --type full, and run walvault verify")
                }
                return part
            }
            references.append(.init(label: label, parts: parts))
        }
        let source = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0 + 1) })
        var entries: [BackupManifest.Entry] = []
        for (entry, ranges) in copied {
            var entry = entry
            if entry.kind == .file {
                entry.ranges = ranges.map {
                    BackupManifest.Range(source: $0.label.map { source[$0]! } ?? 0, part: $0.part, offset: $0.offset, length: $0.length)
                }
            }
            entries.append(entry)
        }
        return (entries, references)
    }

    /// Everything the backup wrote, parts first and the manifest and its copy last, goes into each
    /// async store's queue (all of it, or none where the queue is full: `AsyncQueueing`); `ship`
    /// sends the manifest only once the store holds the rest.
    private func queueForAsyncStores(label: String, layout: ArchiveLayout, warn: (String) -> Void) throws -> [String] {
        guard !context.asyncIndexes.isEmpty, try context.trustedSpool != nil, let source = context.syncStores.first else { return [] }
        let objects = ShipPlan.queueingOrder(try source.list(directory: layout.backupDirectory(label), namePrefix: ""))
        let outcome = try AsyncQueueing(context: context).enqueue(objects.map { ($0.key, $0.size) }, what: "backup \(label)")
        for refusal in outcome.refused { warn(refusal.message) }
        return outcome.queuedFor
    }

    /// What a failed backup wrote is useless: take it back from every store that can delete,
    /// and say what is left where one cannot. Returns the sentence for the error.
    private func removeParts(of label: String, layout: ArchiveLayout) -> String {
        let directory = layout.backupDirectory(label)
        var left: [String] = []
        for store in context.syncStores {
            do {
                let objects = try store.list(directory: directory, namePrefix: "")
                guard !objects.isEmpty else { continue }
                guard store.capabilities.contains(.deletion) else {
                    left.append("\(directory)/ in store \"\(store.name)\" (it cannot delete)")
                    continue
                }
                for object in objects { try store.delete(key: object.key) }
            } catch {
                left.append("\(directory)/ in store \"\(store.name)\" (\(error))")
            }
        }
        return left.isEmpty ? "the parts it wrote were removed" : "remove what it left: " + left.joined(separator: ", ")
    }

    package static func timeline(fromLabel label: String) -> UInt32? {
        for line in label.split(separator: "\n") where line.hasPrefix("START TIMELINE: ") {
            return UInt32(line.dropFirst("START TIMELINE: ".count))
        }
        return nil
    }

    /// The server can be backed up from here: PostgreSQL 15 or later, a primary, and running from
    /// the data directory walvault is about to read.
    package static func checkReady(_ facts: ServerFacts, pgdata: String) throws {
        guard facts.versionNumber >= 150_000 else {
            throw CommandError(
                problem: "the server is PostgreSQL \(facts.versionNumber / 10000); walvault backup needs 15 or later", fix: "upgrade the server")
        }
        guard !facts.inRecovery else {
            throw CommandError(problem: "the server is a standby (in recovery)", fix: "run walvault backup against the primary")
        }
        let configured = FileSystem.realPath(pgdata) ?? pgdata
        let actual = FileSystem.realPath(facts.dataDirectory) ?? facts.dataDirectory
        guard configured == actual else {
            throw CommandError(
                problem: "[cluster] pgdata is \(pgdata), but the server at conninfo runs from \(facts.dataDirectory)",
                fix: "make pgdata and conninfo name the same cluster")
        }
    }

    /// Refuses before copying when the server's WAL will never reach these stores (see ArchiverCheck).
    package func checkArchiver(_ facts: ServerFacts, layout: ArchiveLayout, forBackup: Bool = true) throws -> [String] {
        var check = ArchiverCheck(
            archiveMode: facts.archiveMode, archiveCommand: facts.archiveCommand, archiveLibrary: facts.archiveLibrary,
            lastArchivedWAL: facts.lastArchivedWAL, failing: facts.failingSince.map { .init(wal: $0.wal, time: $0.time) },
            archivedSinceConfigLoad: facts.archivedSinceConfigLoad)
        if let last = check.lastArchivedWAL, let file = WALFileName(last) {
            check.lastArchivedIsInStores = try context.syncStores.contains {
                try !$0.objects(of: file, layout: layout).isEmpty
            }
        }
        return try check.verdict(configPath: context.config.path, forBackup: forBackup) { a, b in
            (FileSystem.realPath(a) ?? a) == (FileSystem.realPath(b) ?? b)
        }
    }

    private func uniqueLabel(layout: ArchiveLayout, now: String) throws -> String {
        var label = now
        var attempt = 1
        while try context.syncStores.contains(where: { try !$0.list(directory: layout.backupDirectory(label), namePrefix: "").isEmpty }) {
            attempt += 1
            label = "\(now)-\(attempt)"
        }
        return label
    }

    /// The backup is unusable until WAL from its start to its stop is in the stores: wait for it,
    /// bounded, and say what is missing and why when it does not come.
    private func waitForWAL(manifest: BackupManifest, layout: ArchiveLayout, session: BackupSession, events: OperationObserver) throws {
        let size = manifest.walSegmentSize
        var needed: [WALFileName] = []
        let first = manifest.startLSN.segmentNumber(segmentSize: size)
        let last = manifest.stopLSN.previousByteSegmentNumber(segmentSize: size)
        for number in first...max(first, last) {
            needed.append(.segment(WALSegmentName(timeline: manifest.timeline, segmentNumber: number, segmentSize: size)))
        }
        needed.append(.backupHistory(manifest.startSegment(), offset: UInt32(manifest.startLSN.value % UInt64(size))))
        let waiting = Stopwatch()
        let meter = ProgressMeter(events: events, phase: "wait-wal", unit: .files, total: Int64(needed.count))
        defer { meter.finish() }
        for file in needed {
            defer { meter.add(1) }
            while try context.syncStores.contains(where: { try $0.objects(of: file, layout: layout).isEmpty }) {
                try events.cancellation.check("waiting for \(file) to be archived")
                guard waiting.seconds < walTimeoutSeconds else {
                    let why = session.lastArchiveFailure().map { "; the archiver last failed on \($0.wal) at \($0.time)" } ?? ""
                    throw CommandError(
                        problem:
                            "backup \(manifest.label) is unusable: \(file) was not archived within \(walTimeoutSeconds == walTimeoutSeconds.rounded() ? String(Int(walTimeoutSeconds)) : String(walTimeoutSeconds)) s\(why)",
                        fix: "check archive_command and the server log; the backup was not marked complete")
                }
                usleep(200_000)
            }
        }
    }
}

/// A backup that failed after it began writing: why, and what became of what it wrote.
public struct BackupFailure: Problem {
    public let underlying: Error
    public let cleanup: String
    public var problem: String { "\(underlying)" }
    public var fix: String { cleanup }
    /// The code of what went wrong; the cleanup is in the text.
    public var errorCode: String { ErrorCodes.of(underlying) }
}
