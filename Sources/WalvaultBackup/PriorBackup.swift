import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// The backup a diff or incr stores its changes against: each of its files' size, checksum and
/// ranges (wherever in the chain they live), and its block maps, read once from the stores into a
/// `BlockMapFile`.
package final class PriorBackup: @unchecked Sendable {
    package struct File {
        package let size: Int
        package let sha256: String
        package let ranges: [SourcedRange]
        package let map: BackupManifest.MapRange?
    }

    package let manifest: BackupManifest
    package let files: [String: File]
    /// Every part of the chain a range may name, by backup label and part number.
    package let parts: [String: [Int: BackupManifest.Part]]
    private let maps: BlockMapFile
    /// - Parameter directories: each store's listing of the prior's directory.
    package init(manifest: BackupManifest, directories: [(store: Store, objects: [StoreObject])], layout: ArchiveLayout, temporaryDirectory: String)
        throws
    {
        self.manifest = manifest
        var parts: [String: [Int: BackupManifest.Part]] = [
            manifest.label: Dictionary(manifest.parts.map { ($0.number, $0) }, uniquingKeysWith: { a, _ in a })
        ]
        for reference in manifest.references {
            parts[reference.label, default: [:]].merge(reference.parts.map { ($0.number, $0) }, uniquingKeysWith: { a, _ in a })
        }
        self.parts = parts
        var files: [String: File] = [:]
        for entry in manifest.entries where entry.kind == .file {
            let ranges = (entry.ranges ?? []).map {
                SourcedRange(label: manifest.label(ofSource: $0.source), part: $0.part, offset: $0.offset, length: $0.length)
            }
            files[entry.path] = File(size: entry.size ?? 0, sha256: entry.sha256 ?? "", ranges: ranges, map: entry.map)
        }
        self.files = files

        // The maps, each part checked against the checksum in its name on the way in.
        maps = try BlockMapFile(temporaryDirectory: temporaryDirectory)
        let directory = layout.backupDirectory(manifest.label)
        for part in manifest.mapParts {
            var problems: [String] = []
            var done = false
            for (store, objects) in directories {
                guard let object = objects.first(where: { $0.name == part.name }) else { continue }
                do {
                    let count = try ObjectFetcher.fetch(object, from: store, into: maps.sinkForNextPart())
                    guard count == part.size else {
                        throw CommandError(problem: "\(object.key) holds \(count) bytes, its manifest says \(part.size)", fix: "")
                    }
                    maps.keep(part: part.number, size: count)
                    done = true
                    break
                } catch {
                    problems.append("\(error)")
                }
            }
            guard done else {
                throw CommandError(
                    problem:
                        "cannot read the block map \(directory)/\(part.name) of backup \(manifest.label)\(problems.isEmpty ? ": no store holds it" : ": " + problems.joined(separator: "; "))",
                    fix: "take a full backup with --type full, and run walvault verify")
            }
        }
    }

    /// A relation file's block fingerprints in the prior, or nil when it had no map.
    package func map(of file: File, into buffer: inout [UInt64]) throws -> Bool {
        guard let map = file.map, map.length % 8 == 0 else { return false }
        return try maps.fingerprints(map, of: manifest.label, into: &buffer)
    }
}
