import WalvaultBackup
import WalvaultCatalog
import WalvaultKit
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// What the stores hold for this cluster: backups and archived WAL, with gaps.
public struct InfoReport: Codable, Equatable, Sendable {
    public struct Backup: Codable, Equatable, Sendable {
        public let label: String
        public let startTime: String
        public let stopTime: String
        public let startLSN: String
        public let stopLSN: String
        public let timeline: UInt32
        public let size: Int
        public let storedSize: Int
        public let files: Int
        /// full, diff or incr.
        public var type = "full"
        /// The backup it stored its changes against.
        public var prior: String? = nil
        /// The backups a restore of it reads parts of, oldest first: its chain.
        public var chain: [String] = []
        /// Parts a restore needs that no store holds (`<label>/<part>`): restore refuses it.
        public var missingParts: [String]? = nil
        /// The stores holding some of it.
        public var stores: [String] = []
        public var postgresVersion: Int? = nil
        public var systemIdentifier: String? = nil
        public var compression: String? = nil
        public var parts: Int? = nil
    }

    /// A backup that no store can give a readable manifest for; restore plans around it.
    public struct DamagedBackup: Codable, Equatable, Sendable {
        public let label: String
        public let reason: String
    }

    /// Parts without a manifest: a backup that was interrupted, or is still running.
    public struct IncompleteBackup: Codable, Equatable, Sendable {
        public let label: String
        /// How long ago it started, from its label ("3 h").
        public let age: String?
        /// Where it is, one entry per store that holds some of it.
        public let locations: [String]
    }

    /// One store's share of this cluster's archive.
    public struct StoreSummary: Codable, Equatable, Sendable {
        public let name: String
        /// `/var/backups/walvault`, `s3://bucket/prefix`.
        public let location: String
        public let mode: String
        /// WAL, histories, backup parts and manifests.
        public let objects: Int
        public let bytes: Int
        public let newestWAL: String?
        /// Async stores: what waits in the shipping queue, and for how long the oldest has.
        public var queuedObjects: Int? = nil
        public var queuedBytes: Int? = nil
        public var oldestQueuedSeconds: Int? = nil
        /// Why the store could not be read now (unreachable, denied); the rest of the report comes
        /// from the other stores.
        public var unreadable: String? = nil
    }

    public let cluster: String
    public let stores: [StoreSummary]
    public let backups: [Backup]
    public let incompleteBackups: [String]
    public let incomplete: [IncompleteBackup]
    public let damagedBackups: [DamagedBackup]
    /// Timeline history files that cannot be used, with why.
    public let unreadableHistories: [String]
    public let wal: [WALRun]
    /// Missing segments between two runs of one timeline.
    public let gaps: [String]
    /// Jobs running now, from any process (their status files): "backup running, 43 %".
    public var running: [JobStatus] = []

    public static func gather(context: WalvaultContext, now: Int64 = WallClock.nowMicros()) throws -> InfoReport {
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        let inventory = try Inventory.read(stores: context.stores, layout: layout, skippingUnreadable: true)
        var segmentSize = inventory.backups.first?.walSegmentSize
        for store in context.stores where segmentSize == nil {
            segmentSize = (try? ArchiveBinding.load(store: store, layout: layout))??.identity.walSegmentSize
        }
        let runs = WALRuns.runs(inventory.segments.keys, segmentSize: segmentSize ?? (16 << 20))
        var gaps: [String] = []
        for (a, b) in zip(runs, runs.dropFirst()) where a.timeline == b.timeline {
            gaps.append("timeline \(a.timeline): after \(a.last), before \(b.first)")
        }
        // What each backup directory holds across the stores, for the chains' damage and the stores' sizes.
        let listings = try inventory.listingsWithBackupObjects(stores: context.stores, layout: layout)
        let present = ClusterListing.objectNamesByBackup(listings.values)
        let backups = inventory.backups.sorted { $0.stopTime < $1.stopTime }.map { manifest in
            var backup = Backup(
                label: manifest.label, startTime: RecoveryTarget.formatUTC(manifest.startTime),
                stopTime: RecoveryTarget.formatUTC(manifest.stopTime), startLSN: manifest.startLSN.description,
                stopLSN: manifest.stopLSN.description, timeline: manifest.timeline, size: manifest.totalSize, storedSize: manifest.storedSize,
                files: manifest.fileCount)
            backup.postgresVersion = manifest.postgresVersion
            backup.systemIdentifier = manifest.systemIdentifier
            backup.compression = manifest.compression
            backup.parts = manifest.parts.count
            backup.type = manifest.type.rawValue
            backup.prior = manifest.prior
            backup.chain = manifest.chain
            let missing = manifest.missingParts(present: present)
            if !missing.isEmpty { backup.missingParts = missing }
            backup.stores = context.stores.filter { inventory.listings[$0.name]?.backupLabels.contains(manifest.label) == true }.map(\.name)
            return backup
        }
        let incomplete = inventory.incompleteBackups.sorted().map { label in
            let directory = layout.backupDirectory(label)
            let locations = context.stores.filter { inventory.listings[$0.name]?.backupLabels.contains(label) == true }.map { store in
                store.capabilities.contains(.onThisMachine) ? Paths.join(store.location, directory) : "\(directory)/ in store \"\(store.name)\""
            }
            return IncompleteBackup(label: label, age: BackupLabel.startTime(label).map { BackupLabel.age(from: $0, to: now) }, locations: locations)
        }
        var summaries: [StoreSummary] = []
        for (index, store) in context.stores.enumerated() {
            var objects = inventory.walHoldings[store.name]?.objects ?? 0
            var bytes = inventory.walHoldings[store.name]?.bytes ?? 0
            let unreadable = inventory.unreadableStores[store.name]
            if let listing = listings[store.name] {
                for object in listing.backupLabels.flatMap({ listing.backupObjects[$0] ?? [] }) {
                    objects += 1
                    bytes += object.size
                }
            }
            let mode = index < context.config.stores.count ? context.config.stores[index].mode.rawValue : "sync"
            var summary = StoreSummary(
                name: store.name, location: store.location, mode: mode, objects: objects, bytes: bytes,
                newestWAL: inventory.walHoldings[store.name]?.newestSegment?.description)
            summary.unreadable = unreadable
            if mode == "async", let spool = context.config.cluster.spool {
                let entries = try ShippingQueue.open(spool: spool, store: store.name).entries()
                summary.queuedObjects = entries.count
                summary.queuedBytes = entries.reduce(0) { $0 + $1.size }
                summary.oldestQueuedSeconds = entries.first.map { Int(max(0, now - $0.queuedAt) / 1_000_000) }
            }
            summaries.append(summary)
        }
        return InfoReport(
            cluster: layout.cluster, stores: summaries, backups: backups, incompleteBackups: inventory.incompleteBackups.sorted(),
            incomplete: incomplete,
            damagedBackups: inventory.damagedBackups.sorted { $0.key < $1.key }.map { DamagedBackup(label: $0.key, reason: $0.value) },
            unreadableHistories: inventory.unreadableHistories.sorted { $0.key < $1.key }.map { "timeline \($0.key): \($0.value)" },
            wal: runs, gaps: gaps,
            running: context.jobs.filter { $0.state == .running })
    }

    public func json() throws -> String {
        try ReportJSON.encode(self)
    }

    public var text: String {
        var lines = ["cluster \(cluster)"]
        for job in running { lines.append("  \(job.summary), started \(RecoveryTarget.formatUTC(job.startedAt)) by \(job.actor), pid \(job.pid)") }
        for store in stores {
            let lag =
                store.queuedObjects.map { queued in
                    queued == 0
                        ? "; shipping queue empty"
                        : "; \(queued) objects (\(store.queuedBytes ?? 0) bytes) waiting to ship, oldest queued \(store.oldestQueuedSeconds ?? 0) s ago"
                } ?? ""
            let holdings =
                store.unreadable.map { "UNREADABLE now (\($0))" }
                ?? "\(store.objects) objects, \(store.bytes) bytes, newest WAL \(store.newestWAL ?? "none")"
            lines.append("  store \"\(store.name)\" (\(store.location), \(store.mode)): \(holdings)\(lag)")
        }
        if backups.isEmpty { lines.append("  no complete backup") }
        for b in backups {
            lines.append(
                "  backup \(b.label) \(b.type)\(b.prior.map { " on \($0)" } ?? ""): \(b.startTime) .. \(b.stopTime), timeline \(b.timeline), LSN \(b.startLSN) .. \(b.stopLSN), \(b.files) files, \(b.size) bytes (\(b.storedSize) stored by itself)"
                    + (b.chain.isEmpty ? "" : "; restore reads \(b.chain.joined(separator: ", ")) too")
            )
            if let missing = b.missingParts {
                lines.append(
                    "  DAMAGED backup \(b.label): \(missing.count) part\(missing.count == 1 ? "" : "s") it needs \(missing.count == 1 ? "is" : "are") in no store (\(missing.prefix(3).joined(separator: ", "))\(missing.count > 3 ? ", …" : "")); restore will not use it"
                )
            }
        }
        for backup in damagedBackups {
            lines.append("  DAMAGED backup \(backup.label): \(backup.reason); restore will not use it")
        }
        for backup in incomplete {
            let age = backup.age.map { "started \($0) ago, " } ?? ""
            let removal = backup.locations.isEmpty ? "" : "; if no backup is running, remove \(backup.locations.joined(separator: " and "))"
            lines.append("  incomplete backup \(backup.label) (\(age)no manifest: interrupted or still running\(removal))")
        }
        if wal.isEmpty { lines.append("  no archived WAL") }
        for run in wal { lines.append("  WAL timeline \(run.timeline): \(run.first) .. \(run.last) (\(run.segments) segments)") }
        for gap in gaps { lines.append("  GAP in WAL, \(gap)") }
        for history in unreadableHistories { lines.append("  UNREADABLE timeline history, \(history); restore plans without it") }
        return lines.joined(separator: "\n")
    }
}
