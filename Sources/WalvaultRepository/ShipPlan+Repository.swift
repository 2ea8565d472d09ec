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

    /// Every object a store must show before it may show the manifest, as `<label>/<name>`: the
    /// backup's data and map parts, and the parts of earlier backups an incremental reads.
    public static func requiredParts(of manifest: BackupManifest) -> [String] {
        (manifest.parts + manifest.mapParts).map { "\(manifest.label)/\($0.name)" }
            + manifest.references.flatMap { reference in reference.parts.map { "\(reference.label)/\($0.name)" } }
    }

    /// - Parameter partsPresent: `<label>/<name>` of what the store shows.
    public static func missing(for manifest: BackupManifest, partsPresent: Set<String>, segmentsPresent: Set<WALSegmentName>) -> [String] {
        missing(
            parts: requiredParts(of: manifest), partsPresent: partsPresent, segments: requiredSegments(of: manifest),
            segmentsPresent: segmentsPresent)
    }
}
