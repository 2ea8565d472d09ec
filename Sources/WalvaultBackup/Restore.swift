import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

public struct RestoreOptions: Sendable {
    public var pgdata: String
    public var target: RecoveryTarget
    public var backupLabel: String?
    public var force = false
    /// How restore_command calls walvault: absolute binary and config paths.
    public var restoreCommand: String
    /// Tablespace locations by OID, instead of the backup's own (a drill must never write where
    /// the production cluster keeps its tablespaces).
    public var tablespaceLocations: [String: String] = [:]

    public init(pgdata: String, target: RecoveryTarget, backupLabel: String? = nil, force: Bool = false, restoreCommand: String) {
        self.pgdata = pgdata
        self.target = target
        self.backupLabel = backupLabel
        self.force = force
        self.restoreCommand = restoreCommand
    }
}

/// What a restore will do, decided before anything is written (and all `--dry-run` does).
public struct RestorePlan: Sendable {
    public let backup: BackupManifest
    public let wal: WALPlan
    public let target: RecoveryTarget
    /// Where the files go and what happens to what is there now.
    public let destinations: [RestoreDestination]
    /// Damaged items the plan went around, one line each.
    public let notes: [String]
    /// Where each part the restore reads is, by backup label and part name: every one was listed
    /// in some store before anything was written.
    public let partLocations: [String: [String: [(store: Store, object: StoreObject)]]]

    /// The original bytes of every part read: a chain's restore decompresses the blocks later
    /// backups replaced too, so this, not the files' size, is what its time follows.
    public var decompressed: Int { backup.partsRead.reduce(0) { $0 + $1.part.size } }

    private func megabytes(_ bytes: Int) -> String { String(format1: Double(bytes) / 1_000_000) }

    public var lines: [String] {
        var out = [
            "backup \(backup.label) (\(backup.type.rawValue)\(backup.prior.map { " on \($0)" } ?? "")): finished \(RecoveryTarget.formatUTC(backup.stopTime)), timeline \(backup.timeline), \(backup.fileCount) files, \(backup.totalSize) bytes"
        ]
        if !backup.references.isEmpty {
            out.append(
                "chain: reads \(backup.parts.count) parts of its own and "
                    + backup.references.map { "\($0.parts.count) of \($0.label)" }.joined(separator: ", ")
                    + "; every one is in a store; \(megabytes(decompressed)) MB to decompress for \(megabytes(backup.totalSize)) MB of files")
        } else {
            out.append("parts: \(backup.parts.count), every one in a store; \(megabytes(decompressed)) MB to decompress")
        }
        switch target {
        case .latest: out.append("target: the end of the archived WAL (latest)")
        case .time(let t): out.append("target: \(RecoveryTarget.formatUTC(t))")
        }
        out.append(
            "timelines: \(wal.timelines.map(String.init).joined(separator: " -> ")); recovery follows timeline \(wal.targetTimeline), then promotes to a new one"
        )
        for range in wal.ranges {
            out.append("WAL timeline \(range.timeline): \(range.first) .. \(range.last) (\(range.count) segments, all archived)")
        }
        out += destinations.map(\.line)
        out += notes
        return out
    }
}

public struct RestoreReport: Sendable {
    public let plan: RestorePlan
    public let seconds: Double
    public let files: Int
    public let bytes: Int
}

/// Rebuilds a data directory from the stores alone and leaves it ready to recover to the target.
public struct Restore {
    public static let autoConfBegin = "# walvault restore: begin"
    public static let autoConfEnd = "# walvault restore: end"

    public let context: WalvaultContext
    public let options: RestoreOptions

    public init(context: WalvaultContext, options: RestoreOptions) {
        self.context = context
        self.options = options
    }

    package var layout: ArchiveLayout { ArchiveLayout(cluster: context.config.cluster.name) }

    public func plan() throws -> RestorePlan {
        try plan(try readInventory())
    }

    /// Every store that can be read: one that cannot (a cloud store unreachable from here) is left
    /// out and named in the plan, never silently; with none readable, the first error stands.
    package func readInventory() throws -> Inventory {
        try Inventory.read(stores: context.stores, layout: layout, skippingUnreadable: true)
    }

    private func plan(_ inventory: Inventory) throws -> RestorePlan {
        if let label = options.backupLabel, let reason = inventory.damagedBackups[label] {
            throw CommandError(
                problem: "backup \(label) is damaged: \(reason)",
                fix: "choose another backup with --backup (walvault info lists them), or leave --backup out")
        }
        // A backup whose parts (its own, or those it reads of earlier backups) are in no store, or
        // whose manifest fails when read whole (the inventory's summary skips the files' ranges),
        // is refused when asked for by name, and gone around otherwise, as a damaged one is.
        let readable = context.stores.filter { inventory.unreadableStores[$0.name] == nil }
        var candidates = inventory.backups
        var broken: [String] = []
        var backup: BackupManifest
        var locations: [String: [String: [(store: Store, object: StoreObject)]]]
        while true {
            backup = try BackupSelection.choose(from: candidates, target: options.target, label: options.backupLabel)
            do {
                locations = try Self.partLocations(of: backup, inventory: inventory, stores: readable, layout: layout)
                backup = try inventory.manifest(backup.label, layout: layout)
                break
            } catch  where options.backupLabel == nil && (error is CommandError || error is CatalogError) {
                let label = backup.label
                candidates.removeAll { $0.label == label }
                broken.append("skipped backup \(label): \((error as? Problem)?.problem ?? "\(error)")")
                if candidates.isEmpty { throw error }
            }
        }
        let wal = try WALPlanner.plan(
            backup: backup, target: options.target, histories: inventory.histories,
            archived: inventory.segments, unreadableHistories: inventory.unreadableHistories)
        var notes = inventory.unreadableStores.sorted { $0.key < $1.key }.map {
            "warning: store \"\($0.key)\" cannot be read now (\($0.value)); planned from the other stores, so a newer backup or later WAL kept only there is not used"
        }
        notes += inventory.damagedBackups.sorted { $0.key < $1.key }.map { "skipped damaged backup \($0.key): \($0.value)" }
        notes += broken
        notes += wal.ignoredHistories.sorted { $0.key < $1.key }.map {
            "planned without timeline \($0.key), whose history cannot be used: \($0.value)"
        }
        let size = backup.walSegmentSize
        let untimed = inventory.segmentsTimedByStore.filter { segment in
            wal.ranges.contains {
                $0.timeline == segment.timeline
                    && ($0.first.segmentNumber(segmentSize: size)...$0.last.segmentNumber(segmentSize: size)).contains(
                        segment.segmentNumber(segmentSize: size))
            }
        }
        if !untimed.isEmpty, case .time = options.target {
            notes.append(
                "warning: \(untimed.count) of these WAL segments were archived before walvault recorded archive times, so the store's modification times placed them; if the store was copied without keeping times (cp without -p, rsync without -t, a bucket copy), the target may be reached too early or refused"
            )
        }
        var destinations = [try RestoreDestination.inspect(options.pgdata, role: .dataDirectory, force: options.force)]
        for tablespace in backup.tablespaces {
            destinations.append(
                try RestoreDestination.inspect(location(of: tablespace), role: .tablespace(oid: tablespace.oid), force: options.force))
        }
        try RestoreSpace.check(try destinations.map { try spaceNeed($0, backup: backup) })
        return RestorePlan(
            backup: backup, wal: wal, target: options.target, destinations: destinations, notes: notes, partLocations: locations)
    }

    /// Every part the backup reads, found by one listing per backup directory per store; a part
    /// no store holds refuses the restore before anything is written, naming the backup it
    /// belongs to, so a broken chain is known before the data directory is touched.
    package static func partLocations(of backup: BackupManifest, inventory: Inventory, stores: [Store], layout: ArchiveLayout) throws -> [String:
        [String: [(
            store: Store, object: StoreObject
        )]]]
    {
        for reference in backup.references {
            if let reason = inventory.damagedBackups[reference.label] {
                throw CommandError(
                    problem: "backup \(backup.label) needs backup \(reference.label), which is damaged: \(reason)",
                    fix: "choose another backup with --backup (walvault info lists them); walvault verify names every backup it breaks")
            }
        }
        var locations: [String: [String: [(store: Store, object: StoreObject)]]] = [:]
        for (label, parts) in [(backup.label, backup.parts)] + backup.references.map({ ($0.label, $0.parts) }) {
            let wanted = Set(parts.map(\.name))
            var found: [String: [(store: Store, object: StoreObject)]] = [:]
            for store in stores {
                for object in try store.list(directory: layout.backupDirectory(label), namePrefix: "") where wanted.contains(object.name) {
                    found[object.name, default: []].append((store, object))
                }
            }
            if let missing = parts.first(where: { found[$0.name] == nil }) {
                let whose = label == backup.label ? "its part" : "part"
                throw CommandError(
                    problem:
                        "backup \(backup.label) cannot be restored: \(whose) \(layout.backupDirectory(label))/\(missing.name)\(label == backup.label ? "" : " (of backup \(label), which it builds on)") is in no store",
                    fix: "choose another backup with --backup (walvault info lists them); walvault verify names every backup it breaks")
            }
            locations[label] = found
        }
        return locations
    }

    /// What one destination will hold: a tablespace its files under pg_tblspc/<oid>/, the data
    /// directory everything else.
    package func location(of tablespace: BackupManifest.Tablespace) -> String {
        options.tablespaceLocations[tablespace.oid] ?? tablespace.location
    }

    private func spaceNeed(_ destination: RestoreDestination, backup: BackupManifest) throws -> RestoreSpace.Need {
        let files = backup.entries.filter { $0.kind == .file }
        let bytes: Int
        switch destination.role {
        case .dataDirectory:
            let prefixes = backup.tablespaces.map { "pg_tblspc/\($0.oid)/" }
            bytes = files.filter { entry in !prefixes.contains { entry.path.hasPrefix($0) } }.reduce(0) { $0 + ($1.size ?? 0) }
        case .tablespace(let oid):
            bytes = files.filter { $0.path.hasPrefix("pg_tblspc/\(oid)/") }.reduce(0) { $0 + ($1.size ?? 0) }
        }
        var existing = destination.path
        while !FileSystem.exists(existing) && existing != "/" { existing = Paths.dirname(existing) }
        do {
            let device = try FileSystem.status(FileSystem.realPath(existing) ?? existing)?.device ?? 0
            return RestoreSpace.Need(
                path: destination.path, device: device, bytes: bytes,
                available: try FileSystem.availableBytes(existing), reclaimable: destination.reclaimableBytes)
        } catch let error as SystemError {
            throw CommandError(
                cause: error, problem: "cannot check free space for \(destination.path): \(error.reason)", fix: error.hint ?? "check the path")
        }
    }

    public func run(events: OperationObserver = IgnoredEvents()) throws -> RestoreReport {
        try events.run(
            "restore", type: .database,
            summary: { report in
                (
                    [],
                    OperationFacts(
                        objectName: report.plan.backup.label, size: report.bytes, systemIdentifier: report.plan.backup.systemIdentifier,
                        timeline: Int(report.plan.wal.targetTimeline))
                )
            }
        ) { try restore(events: events, progress: { events.receive(.progressed(note: $0)) }) }
    }

    /// A cancellation stops it between parts, or before `pg_control` is put in place: a cancelled
    /// restore leaves a directory PostgreSQL will not start, like a failed one.
    private func restore(events: OperationObserver, progress: (String) -> Void) throws -> RestoreReport {
        let clock = Stopwatch()
        let lock = try ClusterLock.acquire(.shared, config: context.config)
        defer { _ = lock }
        let inventory = try readInventory()
        let plan = try plan(inventory)
        let backup = plan.backup
        plan.lines.forEach(progress)

        for destination in plan.destinations { try destination.prepare() }
        // A new restore: nothing archive-get prefetched for an earlier one may be handed over.
        if let spool = try context.trustedSpool { PrefetchSpool.removeAll(spool: spool, cluster: context.config.cluster.name) }
        guard chmod(options.pgdata, 0o700) == 0 else { throw SystemError("set permissions of", path: options.pgdata) }

        let controlSide = Paths.join(options.pgdata, BackupExclusions.controlFile + ".walvault-restore")
        var paths: [String] = []
        for entry in backup.entries {
            let path = Paths.join(options.pgdata, entry.path)
            paths.append(entry.path == BackupExclusions.controlFile ? controlSide : path)
            switch entry.kind {
            case .directory:
                if mkdir(path, mode_t(entry.mode)) != 0 && errno != EEXIST { throw SystemError("create directory", path: path) }
                chmod(path, mode_t(entry.mode))
            case .symlink:
                let tablespace = backup.tablespaces.first { "pg_tblspc/\($0.oid)" == entry.path }
                try FileSystem.makeSymlink(tablespace.map(location(of:)) ?? entry.target ?? "", at: path)
            case .file where (entry.size ?? 0) == 0:
                let file = try FileDescriptor.open(path, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: mode_t(entry.mode))
                try file.close()
            case .file:
                break
            }
        }

        // Every part routed into the files its bytes belong to, several parts at once, each from
        // the backup of the chain that holds it.
        let locations = plan.partLocations
        let layout = layout
        try RestoreWriter(manifest: backup, paths: paths, events: events).run(workers: context.config.performance.restoreParallel) {
            label, part, sink in
            try Self.fetchPart(part, from: locations[label]?[part.name] ?? [], directory: layout.backupDirectory(label), into: sink)
        }

        try events.cancellation.check("writing the data directory")
        try writeRecoverySettings(backup: backup, plan: plan.wal)
        // Every file, directory and link durable, one sync per file system instead of an fsync
        // per file; only then, with every file verified, does the directory become startable.
        do {
            try FileSystem.syncFileSystem(containing: options.pgdata)
            for tablespace in backup.tablespaces { try FileSystem.syncFileSystem(containing: location(of: tablespace)) }
            try events.cancellation.check("making the restore durable")
            try FileSystem.rename(controlSide, to: Paths.join(options.pgdata, BackupExclusions.controlFile))
            try FileSystem.syncDirectory(Paths.dirname(Paths.join(options.pgdata, BackupExclusions.controlFile)))
            try FileSystem.remove(Paths.join(options.pgdata, RestoreDestination.markerName))
            try FileSystem.syncDirectory(options.pgdata)
        } catch let error as SystemError {
            throw CommandError(
                cause: error, problem: "cannot make the restore durable: \(error)",
                fix: "\(error.hint ?? "check the destination's file system"); restore again with --force once that is fixed")
        }
        return RestoreReport(plan: plan, seconds: clock.seconds, files: backup.fileCount, bytes: backup.totalSize)
    }

    private static func fetchPart(
        _ part: BackupManifest.Part, from locations: [(store: Store, object: StoreObject)], directory: String,
        into sink: ByteSink
    ) throws {
        var problems: [String] = []
        for (store, object) in locations {
            do {
                // Every byte of a part is a byte of a file whose SHA-256 the writer checks: the
                // part's own checksum would hash the same bytes a second time.
                _ = try ObjectFetcher.fetch(object, from: store, into: sink, checksummedDownstream: true)
                return
            } catch let error as SystemError {
                // Not the store: writing the restored files failed (a full disk, permissions).
                throw CommandError(
                    cause: error, problem: "cannot write \(error.path): \(error.reason)",
                    fix:
                        "\(error.hint ?? "check the destination"); the data directory is incomplete (no pg_control) and will not start: restore again with --force once that is fixed"
                )
            } catch let stopped as RestoreWriter.Stopped {
                throw stopped
            } catch {
                // Bytes may already be in files; a second store can only help if it starts clean,
                // so the restore stops here and says which object is bad.
                problems.append("\(error)")
                break
            }
        }
        throw CommandError(
            problem: problems.first ?? "backup part \(directory)/\(part.name) is in no store",
            fix:
                "the data directory is incomplete (no pg_control) and will not start; fix the store or choose another backup with --backup, then restore again with --force"
        )
    }

    private func writeRecoverySettings(backup: BackupManifest, plan: WALPlan) throws {
        try FileSystem.writeAtomically(Paths.join(options.pgdata, "backup_label"), contents: Array(backup.backupLabel.utf8), mode: 0o600)
        try FileSystem.writeAtomically(Paths.join(options.pgdata, "recovery.signal"), contents: [], mode: 0o600)
        let autoConf = Paths.join(options.pgdata, "postgresql.auto.conf")
        let existing = (try? FileSystem.readSmallFile(autoConf)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        try FileSystem.writeAtomically(
            autoConf,
            contents: Array(
                Self.recoverySettings(
                    existing: existing, restoreCommand: options.restoreCommand, target: options.target,
                    timeline: plan.followsNewestTimeline ? nil : plan.targetTimeline
                ).utf8), mode: 0o600)
    }

    /// postgresql.auto.conf with walvault's recovery block replacing any earlier one. Pure, for tests.
    /// - Parameter timeline: the timeline recovery must follow when it is not the newest one
    ///   ('latest' would make PostgreSQL follow another timeline than the plan checked).
    public static func recoverySettings(existing: String, restoreCommand: String, target: RecoveryTarget, timeline: UInt32? = nil) -> String {
        var kept: [Substring] = []
        var inBlock = false
        for line in existing.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(autoConfBegin) { inBlock = true; continue }
            if line.hasPrefix(autoConfEnd) { inBlock = false; continue }
            if !inBlock { kept.append(line) }
        }
        while kept.last?.isEmpty == true { kept.removeLast() }
        func quoted(_ s: String) -> String { "'" + s.replacingQuotes() + "'" }
        var block = [
            "\(autoConfBegin) (replaced by the next walvault restore)",
            "restore_command = \(quoted(restoreCommand + " archive-get %f \"%p\""))"
        ]
        if case .time(let t) = target { block.append("recovery_target_time = \(quoted(RecoveryTarget.formatUTC(t)))") }
        block += ["recovery_target_action = 'promote'", "recovery_target_timeline = \(timeline.map { "'\($0)'" } ?? "'latest'")", autoConfEnd]
        return (kept.map(String.init) + block).joined(separator: "\n") + "\n"
    }
}

extension String {
    package func replacingQuotes() -> String {
        var out = ""
        for c in self { out += c == "'" ? "''" : String(c) }
        return out
    }
}
