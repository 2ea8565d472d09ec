#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import WalvaultCatalog
import WalvaultStores

/// What the stores hold for this cluster: backups and archived WAL, with gaps.
public struct InfoReport: Codable, Equatable {
    public struct Backup: Codable, Equatable {
        public let label: String
        public let startTime: String
        public let stopTime: String
        public let startLSN: String
        public let stopLSN: String
        public let timeline: UInt32
        public let size: Int
        public let storedSize: Int
        public let files: Int
    }

    public let cluster: String
    public let backups: [Backup]
    public let incompleteBackups: [String]
    public let wal: [WALRun]
    /// Missing segments between two runs of one timeline.
    public let gaps: [String]

    public static func gather(context: WalvaultContext) throws -> InfoReport {
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        let inventory = try StoreInventory.read(stores: context.stores, layout: layout)
        var segmentSize = inventory.backups.first?.walSegmentSize
        for store in context.stores where segmentSize == nil {
            segmentSize = try ArchiveBinding.load(store: store, layout: layout)?.identity.walSegmentSize
        }
        let runs = WALRuns.runs(inventory.segments.keys, segmentSize: segmentSize ?? (16 << 20))
        var gaps: [String] = []
        for (a, b) in zip(runs, runs.dropFirst()) where a.timeline == b.timeline {
            gaps.append("timeline \(a.timeline): after \(a.last), before \(b.first)")
        }
        let backups = inventory.backups.sorted { $0.stopTime < $1.stopTime }.map {
            Backup(label: $0.label, startTime: RecoveryTarget.formatUTC($0.startTime), stopTime: RecoveryTarget.formatUTC($0.stopTime),
                   startLSN: $0.startLSN.description, stopLSN: $0.stopLSN.description, timeline: $0.timeline,
                   size: $0.totalSize, storedSize: $0.storedSize, files: $0.entries.filter { $0.kind == .file }.count)
        }
        return InfoReport(cluster: layout.cluster, backups: backups, incompleteBackups: inventory.incompleteBackups.sorted(), wal: runs, gaps: gaps)
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public var text: String {
        var lines = ["cluster \(cluster)"]
        if backups.isEmpty { lines.append("  no complete backup") }
        for b in backups {
            lines.append("  backup \(b.label): \(b.startTime) .. \(b.stopTime), timeline \(b.timeline), LSN \(b.startLSN) .. \(b.stopLSN), \(b.files) files, \(b.size) bytes (\(b.storedSize) stored)")
        }
        for label in incompleteBackups { lines.append("  incomplete backup \(label) (no manifest: interrupted or still running)") }
        if wal.isEmpty { lines.append("  no archived WAL") }
        for run in wal { lines.append("  WAL timeline \(run.timeline): \(run.first) .. \(run.last) (\(run.segments) segments)") }
        for gap in gaps { lines.append("  GAP in WAL, \(gap)") }
        return lines.joined(separator: "\n")
    }
}
