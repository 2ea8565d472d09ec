import Dispatch
import Synchronization
import WalvaultBackup
import WalvaultCatalog
import WalvaultFiles
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// What `walvault verify` found: problems (exit 1) and notes, each naming store and object.
public struct VerifyReport: Codable, Sendable {
    public var stores: [String] = []
    public var objects = 0
    /// Bytes as stored (compressed, encrypted): what was read.
    public var storedBytes = 0
    /// Bytes after decryption and decompression: what was checksummed.
    public var originalBytes = 0
    /// Distinct backups checked (a backup in two stores is checked in each, and counted once).
    public var backups = 0
    public var files = 0
    /// Snapshots of `[[storage]]` trees checked (in each store that holds them).
    public var fileSnapshots = 0
    public var seconds = 0.0
    public var problems: [ArchiveAudit.Finding] = []
    public var notes: [ArchiveAudit.Finding] = []

    public var ok: Bool { problems.isEmpty }

    public func json() throws -> String {
        try ReportJSON.encode(self)
    }

    /// One line per problem, then per note, then the summary.
    public var lines: [String] {
        func line(_ verdict: String, _ f: ArchiveAudit.Finding) -> String { "\(verdict) store \"\(f.store)\" \(f.object): \(f.problem)" }
        let rate = seconds > 0 ? Double(storedBytes) / 1_000_000 / seconds : 0
        return problems.map { line("FAIL", $0) } + notes.map { line("note", $0) } + [
            "verified \(objects) objects in \(stores.count) store\(stores.count == 1 ? "" : "s") (\(Self.megabytes(storedBytes)) MB stored, \(Self.megabytes(originalBytes)) MB checksummed, "
                + "\(backups) backup\(backups == 1 ? "" : "s"), \(files) files\(fileSnapshots > 0 ? ", \(fileSnapshots) files snapshot\(fileSnapshots == 1 ? "" : "s")" : "")) in \(String(format1: seconds)) s, \(String(format1: rate)) MB/s: "
                + (problems.isEmpty ? "no problems" : "\(problems.count) problem\(problems.count == 1 ? "" : "s")")
        ]
    }

    package static func megabytes(_ bytes: Int) -> String { String(format1: Double(bytes) / 1_000_000) }
}

/// `walvault verify`: every object read back (decrypted, decompressed, checksummed against its
/// name; WAL segments also by size and page header; each backup's files against the manifest),
/// and what the listings say together (`ArchiveAudit`: gaps, duplicates, unused WAL, objects
/// missing from a store that should have them). Reads stream; jobs run on `workers` threads.
public struct Verify {
    public let context: WalvaultContext
    /// `--store`, once or more; empty: every store.
    public let storeNames: [String]
    public let backupLabel: String?
    public let workers: Int

    public init(context: WalvaultContext, storeNames: [String] = [], backupLabel: String? = nil, workers: Int = 2) {
        self.context = context
        self.storeNames = storeNames
        self.backupLabel = backupLabel
        self.workers = max(1, workers)
    }

    /// One unit of reading: a WAL object, or a whole backup (its parts in order, since a file may
    /// span parts and its checksum needs its bytes in order).
    package enum Job {
        case wal(store: Int, object: StoreObject, file: WALFileName)
        case backup(store: Int, label: String, objects: [StoreObject])
        /// A schema dump or a log export: its checksum, like a WAL object's, is in its name.
        case export(store: Int, object: StoreObject)

        package var storedBytes: Int {
            switch self {
            case .wal(_, let object, _), .export(_, let object): return object.size
            case .backup(_, _, let objects): return objects.reduce(0) { $0 + $1.size }
            }
        }
        package var objectCount: Int {
            switch self {
            case .wal, .export: return 1
            case .backup(_, _, let objects): return objects.count
            }
        }
    }

    /// What a job found, merged after all jobs ran.
    package struct Outcome {
        package var problems: [ArchiveAudit.Finding] = []
        package var notes: [ArchiveAudit.Finding] = []
        package var originalBytes = 0
        package var backup: ArchiveAudit.Backup?
        /// A timeline history that read back and parsed, for the continuity rules.
        package var history: TimelineHistory?
        package var files = 0
    }

    /// Progress goes to `events` in stored bytes, with objects beside them; a cancellation stops
    /// the reading between objects and throws `OperationCancelled`, without a report.
    public func run(events: OperationObserver = IgnoredEvents()) throws -> VerifyReport {
        let clock = Stopwatch()
        var stores = context.stores
        if !storeNames.isEmpty {
            for storeName in storeNames where !stores.contains(where: { $0.name == storeName }) {
                throw CommandError(
                    problem: "--store \(storeName): config \(context.config.path) has no store of that name",
                    fix: "name one of: \(context.stores.map(\.name).joined(separator: ", "))")
            }
            stores = stores.filter { storeNames.contains($0.name) }
        }
        // Expire deleting while verify reads would look like damage.
        guard let lock = try ClusterLock.acquire(.shared, config: context.config) else {
            throw CommandError(problem: "cannot lock cluster \"\(context.config.cluster.name)\"", fix: "try again")
        }
        defer { _ = lock }
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        var report = VerifyReport()
        report.stores = stores.map(\.name)

        // What the async stores still await, read before the listings and again after them: an
        // object shipped while the stores are listed left the queue, and may be missing from a
        // listing taken just before it arrived. Either read counts it as on its way, not missing.
        let spool = try context.trustedSpool
        func readQueues() -> [String: Set<String>] {
            guard let spool else { return [:] }
            var queued: [String: Set<String>] = [:]
            for index in context.asyncIndexes {
                let name = context.stores[index].name
                queued[name] = queuedNames(spool: spool, store: name, layout: layout)
            }
            return queued
        }
        var queuedAround = readQueues()  // and merged with a second read after the listings

        // Listings first: the jobs, the identity each store is bound to, objects that are not walvault's.
        var jobs: [Job] = []
        var identities: [Int: ClusterIdentity] = [:]
        var incomplete: [Int: [String]] = [:]
        var listed: Set<Int> = []
        var backupFound = false
        // Every store's listing: whether the parts an incremental reads of earlier backups still
        // exist somewhere.
        var listings: [ClusterListing] = []
        for (index, store) in stores.enumerated() {
            do {
                let binding = ArchiveBinding.audit(store: store, layout: layout)
                identities[index] = binding.info?.identity
                let listing = try ClusterListing.read(store, layout: layout, backupObjects: true, exports: backupLabel == nil)
                let labels = listing.backupLabels
                listings.append(listing)
                for label in labels where backupLabel == nil || backupLabel == label {
                    backupFound = true
                    let objects = listing.backupObjects[label] ?? []
                    if objects.contains(where: { $0.name == "backup.manifest" || $0.name == "backup.manifest.copy" }) {
                        jobs.append(.backup(store: index, label: label, objects: objects))
                    } else {
                        incomplete[index, default: []].append(label)
                    }
                }
                let walObjects = listing.walObjects
                for object in walObjects {
                    switch layout.classify(object.key) {
                    case .wal(let file, inItsDirectory: true):
                        jobs.append(.wal(store: index, object: object, file: file))
                    case .wal(let file, inItsDirectory: false):
                        report.problems.append(
                            .init(
                                store: store.name, object: object.key,
                                problem: "in the wrong directory (restore looks for it in \(layout.directory(for: file))/)"))
                    default:
                        report.problems.append(
                            .init(
                                store: store.name, object: object.key,
                                problem: "not a walvault WAL object (no WAL file name and checksum in its name)"))
                    }
                }
                // Only archive-push and backup bind a store: one that holds nothing but dumps and
                // log exports has no archive.info to miss.
                let onlyExports =
                    labels.isEmpty && walObjects.isEmpty && binding.info == nil && binding.problems.allSatisfy { $0.problem == "missing" }
                if !onlyExports {
                    for (key, problem) in binding.problems {
                        report.problems.append(.init(store: store.name, object: key, problem: problem))
                    }
                }
                for object in listing.exportObjects { jobs.append(.export(store: index, object: object)) }
                listed.insert(index)
            } catch {
                report.problems.append(.init(store: store.name, object: layout.cluster, problem: "cannot be listed: \(error)"))
            }
        }
        if let backupLabel, !backupFound {
            throw CommandError(problem: "--backup \(backupLabel): no store holds a backup of that name", fix: "walvault info lists the backups")
        }
        queuedAround.merge(readQueues()) { $0.union($1) }

        // Read everything back, largest jobs first so the last one to finish is a small one.
        jobs.sort { $0.storedBytes > $1.storedBytes }
        let totalObjects = jobs.reduce(0) { $0 + $1.objectCount }
        let totalBytes = jobs.reduce(0) { $0 + $1.storedBytes }
        let done = Mutex<[(Int, Outcome)]>([])
        let segmentSizes = identities.mapValues(\.walSegmentSize)
        let boundTo = identities
        let storeList = stores
        let meter = ProgressMeter(
            events: events, phase: "verify", unit: .bytes, total: Int64(totalBytes), filesTotal: totalObjects,
            counting: .objects)
        let advance: @Sendable (Int, Int) -> Void = { objects, bytes in meter.add(Int64(bytes), files: objects) }
        let jobList = jobs
        let elsewhere = ClusterListing.objectNamesByBackup(listings)
        try ParallelJobs(cancellation: events.cancellation, doing: "verifying objects").run(count: jobList.count, workers: workers) { _, i in
            let outcome: Outcome
            switch jobList[i] {
            case .wal(let index, let object, let file):
                outcome = Self.verifyWAL(object, file: file, store: storeList[index], identity: boundTo[index], segmentSize: segmentSizes[index])
                advance(1, object.size)
            case .backup(let index, let label, let objects):
                outcome = Self.verifyBackup(
                    label: label, objects: objects, store: storeList[index], layout: layout, partsAnywhere: elsewhere, advance: advance)
            case .export(let index, let object):
                outcome = Self.verifyExport(object, store: storeList[index])
                advance(1, object.size)
            }
            done.withLock { $0.append((i, outcome)) }
        }
        meter.finish()

        // Merge in job order, then judge the listings together.
        var holdings = stores.map { ArchiveAudit.Holdings(store: $0.name) }
        var histories: [UInt32: TimelineHistory] = [:]
        for (i, outcome) in done.withLock({ $0 }).sorted(by: { $0.0 < $1.0 }) {
            report.problems += outcome.problems
            report.notes += outcome.notes
            report.originalBytes += outcome.originalBytes
            report.files += outcome.files
            if let history = outcome.history, histories[history.timeline] == nil { histories[history.timeline] = history }
            switch jobs[i] {
            case .wal(let index, let object, let file):
                holdings[index].walFiles[file.description, default: []].append(StoredObjectName(object.name)!.sha256)
            case .backup(let index, _, _):
                if let backup = outcome.backup { holdings[index].backups.append(backup) }
            case .export:
                break
            }
        }
        for (index, labels) in incomplete {
            for label in labels {
                let started = BackupLabel.startTime(label)
                let old = started.map { WallClock.nowMicros() - $0 > 86_400_000_000 } ?? true
                report.notes.append(
                    .init(
                        store: stores[index].name, object: label,
                        problem: "parts without a manifest: an interrupted backup\(old ? "; walvault expire removes it" : ", or one still running")"))
            }
        }
        for (position, store) in stores.enumerated() {
            if let queued = queuedAround[store.name] { holdings[position].queued = queued }
        }
        let segmentSize = identities.values.first?.walSegmentSize ?? (16 << 20)
        var audited = holdings.enumerated().filter { listed.contains($0.offset) }.map(\.element)
        if let backupLabel {
            // One backup: its WAL only; what the other backups need, and what else a store holds, is not asked.
            audited = audited.map { store in
                var only = store
                only.backups = store.backups.filter { $0.label == backupLabel }
                let start = only.backups.map { $0.startLSN.segmentNumber(segmentSize: segmentSize) }.min() ?? .max
                only.walFiles = store.walFiles.filter { name, _ in
                    guard case .segment(let s)? = WALFileName(name) else { return true }
                    return s.segmentNumber(segmentSize: segmentSize) >= start
                }
                return only
            }
            report.problems += audited.flatMap { ArchiveAudit.gaps(in: $0, histories: histories, segmentSize: segmentSize) }
        } else {
            let findings = ArchiveAudit.audit(audited, histories: histories, segmentSize: segmentSize)
            let (missing, late) = Self.arrivedSince(findings.problems, stores: stores, layout: layout)
            report.problems += missing
            report.notes += findings.notes + late
        }
        for store in audited where store.backups.isEmpty && backupLabel == nil {
            report.notes.append(
                .init(
                    store: store.store, object: layout.backupRoot,
                    problem: "no complete backup in this store: its WAL cannot be restored from it alone"))
        }
        report.backups = Set(holdings.flatMap { $0.backups.map(\.label) }).count
        report.objects = totalObjects
        report.storedBytes = totalBytes
        if backupLabel == nil {
            // [[storage]] snapshots: each read back, each chunk they use decoded and checked by name.
            for (position, store) in stores.enumerated() where listed.contains(position) {
                let files = try FilesVerify(context: context).verify(store, cancellation: events.cancellation)
                report.problems += files.problems.map { .init(store: store.name, object: $0.object, problem: $0.problem) }
                report.fileSnapshots += files.snapshots
                report.objects += files.snapshots + files.packs
                report.storedBytes += files.storedBytes
                report.originalBytes += files.originalBytes
            }
        }
        report.seconds = clock.seconds
        return report
    }

    /// One WAL object: its bytes against its name's checksum; a segment also by size, and by its
    /// first page header (this cluster's system identifier, the position its name says).
    package static func verifyWAL(_ object: StoreObject, file: WALFileName, store: Store, identity: ClusterIdentity?, segmentSize: Int?) -> Outcome {
        var outcome = Outcome()
        func problem(_ text: String) { outcome.problems.append(.init(store: store.name, object: object.key, problem: text)) }
        let sink = HeaderKeepingSink()
        do {
            outcome.originalBytes = try ObjectFetcher.check(object, from: store, into: sink)
        } catch {
            problem("\(error)")
            return outcome
        }
        let segment: WALSegmentName
        switch file {
        case .segment(let s), .partial(let s): segment = s
        case .history(let timeline):
            // The histories the continuity rules follow are these, already read: no second listing.
            outcome.history =
                sink.count > sink.kept.count ? nil : TimelineHistory(timeline: timeline, text: String(decoding: sink.kept, as: UTF8.self))
            if outcome.history == nil { problem("is not a valid timeline history") }
            return outcome
        case .backupHistory: return outcome
        }
        if let segmentSize, sink.count != segmentSize {
            problem("holds \(sink.count) bytes, not the segment size \(segmentSize)")
            return outcome
        }
        do {
            let header = try WALPageHeader(bytes: Array(sink.kept.prefix(WALPageHeader.size)))
            if let identity, header.systemIdentifier != identity.systemIdentifier {
                problem("belongs to the cluster with system identifier \(header.systemIdentifier), not \(identity.systemIdentifier)")
            } else if header.pageAddress != segment.segmentNumber(segmentSize: header.segmentSize) * UInt64(header.segmentSize) {
                problem("its first page says position \(LSN(header.pageAddress)), not segment \(segment)")
            }
        } catch {
            problem("\(error)")
        }
        return outcome
    }

    /// One backup: the manifest and its copy each readable and alike, every part the manifest
    /// lists present, of its size and checksum, every part of an earlier backup it reads present
    /// in some store, and no object the manifest does not list. The bytes of each file in this
    /// backup's own parts are checked: a relation file's blocks against the backup's block map
    /// (`BlockMapCheck`), including the blocks an incremental stored itself; any other file whose
    /// bytes are all here against its SHA-256. Restore and drill check every file's SHA-256.
    package static func verifyBackup(
        label: String, objects: [StoreObject], store: Store, layout: ArchiveLayout, partsAnywhere: [String: Set<String>] = [:],
        advance: @Sendable (Int, Int) -> Void
    ) -> Outcome {
        var outcome = Outcome()
        func problem(_ object: String, _ text: String) { outcome.problems.append(.init(store: store.name, object: object, problem: text)) }
        var manifests: [BackupManifest] = []
        for key in [layout.manifestKey(label), layout.manifestCopyKey(label)] {
            let size = objects.first { $0.key == key }?.size ?? 0
            defer { advance(1, size) }
            guard objects.contains(where: { $0.key == key }) else {
                problem(key, "missing (the other copy stands in)")
                continue
            }
            do {
                guard let bytes = try store.readSmall(key: key) else { problem(key, "vanished while verify ran"); continue }
                let manifest = try BackupManifest.decode(bytes)
                guard manifest.label == label else { problem(key, "describes backup \(manifest.label), not \(label)"); continue }
                manifests.append(manifest)
            } catch let error as DecodingError {
                problem(key, "cannot be parsed (\(Inventory.summary(error)))")
            } catch {
                problem(key, "cannot be read: \(error)")
            }
        }
        if manifests.count == 2, manifests[0] != manifests[1] { problem(layout.manifestCopyKey(label), "differs from \(layout.manifestKey(label))") }
        let partObjects = objects.filter { !ArchiveLayout.plainObjectNames.contains($0.name) }
        guard let manifest = manifests.first else {
            // Without a manifest no byte of a part can be placed; the parts are still read back.
            for object in partObjects {
                do { _ = try ObjectFetcher.check(object, from: store, into: DiscardingSink()) } catch { problem(object.key, "\(error)") }
                advance(1, object.size)
            }
            return outcome
        }
        let byName = Dictionary(partObjects.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let listed = Set((manifest.parts + manifest.mapParts).map(\.name))
        for object in partObjects where !listed.contains(object.name) {
            problem(object.key, "not in backup \(label)'s manifest: an orphan")
            advance(1, object.size)
        }
        do {
            try manifest.checkRanges()
        } catch {
            problem(layout.manifestKey(label), "\(error)")
        }
        for reference in manifest.references {
            let present = partsAnywhere[reference.label] ?? []
            let missing = reference.parts.filter { !present.contains($0.name) }.map(\.name)
            guard !missing.isEmpty else { continue }
            problem(
                layout.backupDirectory(label),
                "backup \(label) is broken: it builds on backup \(reference.label), whose \(missing.count == 1 ? "part" : "parts") \(missing.joined(separator: ", ")) no store holds"
            )
        }
        // The block maps, kept (in a local unnamed file) to check relation files' blocks against.
        var kept: BlockMapFile?
        if !manifest.mapParts.isEmpty {
            do {
                kept = try BlockMapFile(temporaryDirectory: Environment.temporaryDirectory)
            } catch {
                problem(
                    layout.backupDirectory(label), "cannot keep its block maps in a temporary file (\(error)); set TMPDIR to a writable directory")
            }
        }
        let maps = kept
        for part in manifest.mapParts {
            let key = layout.backupDirectory(label) + "/" + part.name
            guard let object = byName[part.name] else {
                problem(key, "missing: the next incremental cannot build on backup \(label) from this store")
                continue
            }
            defer { advance(1, object.size) }
            do {
                let sink: ByteSink = maps?.sinkForNextPart() ?? DiscardingSink()
                let bytes = try ObjectFetcher.check(object, from: store, into: sink)
                if bytes != part.size {
                    problem(key, "holds \(bytes) bytes, the manifest says \(part.size)")
                } else {
                    maps?.keep(part: part.number, size: bytes)
                }
            } catch {
                problem(key, "\(error)")
            }
        }
        let pieces = PartRouter.pieces(of: manifest)
        let files = manifest.entries
        var fingerprints: [UInt64] = []
        // A relation file with a kept map: its blocks; another file all of whose bytes are in this
        // backup: its SHA-256; else (an incremental's file without a map) its parts' checksums only.
        let checkFor: (Int) throws -> FileCheck? = { index in
            let entry = files[index]
            if let map = entry.map, let maps {
                do {
                    if try maps.fingerprints(map, of: label, into: &fingerprints) {
                        return BlockMapCheck(fingerprints: fingerprints, size: entry.size ?? 0)
                    }
                } catch let error as CommandError {
                    return UncheckableFile("cannot be checked: \(error.problem)")
                } catch {
                    return UncheckableFile("cannot be checked: \(error)")
                }
            }
            guard entry.ranges?.allSatisfy({ $0.source == 0 }) ?? false else { return nil }
            return WholeFileHash(expected: entry.sha256)
        }
        var carried: [Int: FileCheck] = [:]
        var broken: Set<Int> = []
        var mismatched: [(entry: Int, problem: String)] = []
        for part in manifest.parts.sorted(by: { $0.number < $1.number }) {
            let key = layout.backupDirectory(label) + "/" + part.name
            let partKey = BackupManifest.PartKey(source: 0, number: part.number)
            let entries = Set((pieces[partKey] ?? []).map(\.entry))
            guard let object = byName[part.name] else {
                problem(key, "missing: backup \(label) cannot be restored from this store")
                broken.formUnion(entries)
                carried = carried.filter { !entries.contains($0.key) }
                continue
            }
            defer { advance(1, object.size) }
            let router = PartRouter(pieces: pieces[partKey] ?? [], partSize: part.size, carriedOver: carried, skipping: broken, checkFor: checkFor)
            do {
                if StoredObjectName(part.name)?.sha256 != part.sha256 {
                    problem(key, "its name's checksum differs from the manifest's (\(part.sha256.prefix(12))…)")
                }
                // Format 1: every byte of a part belongs to a file whose SHA-256 the router checks, so
                // the part's own hash (of the same bytes) is skipped, unless a part before it failed.
                // Format 2: the part's hash is of its stored bytes, a fraction of them, always checked;
                // in a full, the router also checks every original byte, so zstd's frame checksum is
                // skipped (an incremental's files partly in earlier backups are not checked here).
                let everyByteChecked = broken.isEmpty && manifest.references.isEmpty
                let bytes = try ObjectFetcher.check(object, from: store, into: router, checksummedDownstream: everyByteChecked)
                outcome.originalBytes += bytes
                if bytes != part.size { problem(key, "holds \(bytes) bytes, the manifest says \(part.size)") }
                carried = router.stillOpen
                mismatched += router.mismatched
                outcome.files += router.verified
            } catch {
                problem(key, "\(error)")
                broken.formUnion(entries)
                carried = carried.filter { !entries.contains($0.key) }
            }
        }
        // Each check ends at its file's last piece in this backup; one still open means the
        // pieces ended early, and what arrived is judged.
        for (entry, check) in carried.sorted(by: { $0.key < $1.key }) {
            if case .mismatched(let why) = check.finish() { mismatched.append((entry, why)) }
        }
        for (entry, why) in mismatched.sorted(by: { $0.entry < $1.entry }) {
            problem(layout.backupDirectory(label), "file \(manifest.entries[entry].path) \(why)")
        }
        outcome.files += manifest.entries.filter { $0.kind == .file && ($0.size ?? 0) == 0 }.count
        outcome.backup = ArchiveAudit.Backup(
            label: label, timeline: manifest.timeline, startLSN: manifest.startLSN, stopLSN: manifest.stopLSN,
            stopTime: manifest.stopTime, parts: (manifest.parts + manifest.mapParts).map(\.name))
        return outcome
    }

    /// Original names and backup labels the queue still owes a store.
    /// A dump or log export read back whole: decrypted, decompressed, its SHA-256 against its name.
    package static func verifyExport(_ object: StoreObject, store: Store) -> Outcome {
        var outcome = Outcome()
        do {
            outcome.originalBytes = try ObjectFetcher.check(object, from: store, into: DiscardingSink())
        } catch {
            outcome.problems.append(.init(store: store.name, object: object.key, problem: "\(error)"))
        }
        return outcome
    }

    /// "In store A but not in this one", when the object is there by now: the shipper brought it
    /// to an async store between the listing and the queue's last read, or archive-push stored it
    /// in a sync store after that store was listed and it was shipped before the next one was.
    /// Late, not missing; it was not read back this time.
    package static func arrivedSince(
        _ problems: [ArchiveAudit.Finding], stores: [Store],
        layout: ArchiveLayout
    ) -> (missing: [ArchiveAudit.Finding], late: [ArchiveAudit.Finding]) {
        var missing: [ArchiveAudit.Finding] = []
        var late: [ArchiveAudit.Finding] = []
        for finding in problems {
            guard finding.problem.hasSuffix("but not in this one"),
                let store = stores.first(where: { $0.name == finding.store })
            else {
                missing.append(finding)
                continue
            }
            let arrived: Bool
            if let file = WALFileName(finding.object) {
                arrived =
                    (try? store.list(directory: layout.directory(for: file), namePrefix: StoredObjectName.prefix(for: finding.object)).isEmpty
                        == false) ?? false
            } else {
                arrived =
                    (try? store.list(directory: layout.backupDirectory(finding.object), namePrefix: "backup.manifest").isEmpty == false) ?? false
            }
            if arrived {
                late.append(.init(store: finding.store, object: finding.object, problem: "stored while verify ran (not read back this time)"))
            } else {
                missing.append(finding)
            }
        }
        return (missing, late)
    }

    package func queuedNames(spool: String, store: String, layout: ArchiveLayout) -> Set<String> {
        guard let queue = try? ShippingQueue.open(spool: spool, store: store), let entries = try? queue.entries() else { return [] }
        var names: Set<String> = []
        for entry in entries {
            guard let key = try? queue.key(of: entry) else { continue }
            let components = key.split(separator: "/").map(String.init)
            if components.count >= 3, components[1] == "backup" {
                names.insert(components[2])
            } else if let name = components.last.flatMap(StoredObjectName.init) {
                names.insert(name.originalName)
            }
        }
        return names
    }
}

/// Counts what passes and keeps the first bytes (a WAL page header, a timeline history).
package final class HeaderKeepingSink: ByteSink {
    package static let keep = 64 << 10
    private(set) var kept: [UInt8] = []
    private(set) var count = 0
    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        if kept.count < Self.keep { kept.append(contentsOf: bytes.prefix(Self.keep - kept.count)) }
        count += bytes.count
    }
    package func finish() throws {}
}

package final class DiscardingSink: ByteSink {
    package func write(_ bytes: UnsafeRawBufferPointer) throws {}
    package func finish() throws {}
}
