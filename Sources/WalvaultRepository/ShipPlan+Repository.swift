import WalvaultCatalog
import WalvaultPolicy
import WalvaultStores

/// `ShipPlan`'s decisions over the repository's own types: store objects, and the WAL a backup's
/// manifest says its end needs.
extension ShipPlan {
    public static func queueingOrder(_ objects: [StoreObject]) -> [StoreObject] {
        queueingOrder(objects, key: \.key)
    }

    /// The WAL segments a backup needs to be consistent: from the one holding its start LSN to the
    /// one holding the last byte before its stop LSN, on its timeline.
    public static func requiredSegments(of manifest: BackupManifest) -> [WALSegmentName] {
        let size = manifest.walSegmentSize
        let first = manifest.startLSN.segmentNumber(segmentSize: size)
        let last = max(first, manifest.stopLSN.previousByteSegmentNumber(segmentSize: size))
        return (first...last).map { WALSegmentName(timeline: manifest.timeline, segmentNumber: $0, segmentSize: size) }
    }

    public static func missing(for manifest: BackupManifest, partsPresent: Set<String>, segmentsPresent: Set<WALSegmentName>) -> [String] {
        missing(
            parts: manifest.parts.map(\.name), partsPresent: partsPresent, segments: requiredSegments(of: manifest),
            segmentsPresent: segmentsPresent)
    }
}
