import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// The backup a diff or incr stores its changes against: each of its files' size, checksum and
/// ranges (wherever in the chain they live), and its block maps, read once from the stores into an
/// unnamed local file (8 bytes per 8 KiB block: 2 MiB for a 2 GiB cluster), so memory stays one
/// file's map whatever the cluster's size.
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
    private let maps: FileDescriptor
    /// Where each of the prior's map parts starts in `maps`.
    private let mapOffsets: [Int: Int]

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
        maps = try FileDescriptor.openUnnamed(in: temporaryDirectory)
        var offsets: [Int: Int] = [:]
        let directory = layout.backupDirectory(manifest.label)
        var end = 0
        for part in manifest.mapParts {
            offsets[part.number] = end
            var problems: [String] = []
            var done = false
            for (store, objects) in directories {
                guard let object = objects.first(where: { $0.name == part.name }) else { continue }
                do {
                    let sink = FileAppendingSink(file: maps, at: end)
                    let count = try ObjectFetcher.fetch(object, from: store, into: sink)
                    guard count == part.size else {
                        throw CommandError(problem: "\(object.key) holds \(count) bytes, its manifest says \(part.size)", fix: "")
                    }
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
            end += part.size
        }
        mapOffsets = offsets
    }

    deinit { try? maps.close() }

    /// A relation file's block fingerprints in the prior, or nil when it had no map.
    package func map(of file: File, into buffer: inout [UInt64]) throws -> Bool {
        guard let map = file.map, let start = mapOffsets[map.part], map.length % 8 == 0 else { return false }
        buffer = [UInt64](repeating: 0, count: map.length / 8)
        let got = try buffer.withUnsafeMutableBytes { try maps.pread(into: $0, at: start + map.offset) }
        guard got == map.length else {
            throw CommandError(
                problem: "backup \(manifest.label)'s block maps are shorter than its manifest says", fix: "take a full backup with --type full")
        }
        return true
    }
}

/// Writes a stream into a file from an offset on.
package final class FileAppendingSink: ByteSink {
    private let file: FileDescriptor
    private var offset: Int
    package init(file: FileDescriptor, at offset: Int) {
        self.file = file
        self.offset = offset
    }
    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        try file.writeAll(bytes, at: offset)
        offset += bytes.count
    }
    package func finish() throws {}
}
