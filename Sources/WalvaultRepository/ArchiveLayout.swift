import WalvaultCatalog

/// Where things live inside a store, for one cluster:
///
///     <cluster>/archive.info, archive.info.copy
///     <cluster>/wal/00000002.history-<sha256>.zst
///     <cluster>/wal/0000000100000000/000000010000000000000001-<sha256>.zst
///     <cluster>/backup/<label>/part-000001-<sha256>.zst, …, backup.manifest, backup.manifest.copy
///     <cluster>/dump/<schema>/<time>-<sha256>.dump      a schema's pg_dump (ExportObjectName)
///     <cluster>/logs/<table>/<time>-<sha256>.jsonl.zst   rows exported by export-logs
///     <cluster>/files/packs/<sha256 of its trailer>.pack  chunks of [[storage]] trees (PackFormat)
///     <cluster>/files/index/<time>-<sha256>.index     the packs one files backup added (ChunkTable)
///     <cluster>/files/snapshots/<name>/<id>.snapshot  a tree as files restore brings it back (FileSnapshot)
///
/// Keeping the layout in one place lets every store driver and `info` agree on it.
public struct ArchiveLayout: Sendable {
    public let cluster: String

    public init(cluster: String) { self.cluster = cluster }

    /// The small objects stored as they are (TOML, JSON): no compression, no checksum in the
    /// name, authenticated by encryption when it is on.
    public static let plainObjectNames: Set<String> = ["archive.info", "archive.info.copy", "backup.manifest", "backup.manifest.copy"]

    public var infoKey: String { "\(cluster)/archive.info" }
    public var infoCopyKey: String { "\(cluster)/archive.info.copy" }
    public var walRoot: String { "\(cluster)/wal" }

    public var backupRoot: String { "\(cluster)/backup" }
    public func backupDirectory(_ label: String) -> String { "\(backupRoot)/\(label)" }
    public func manifestKey(_ label: String) -> String { "\(backupRoot)/\(label)/backup.manifest" }
    public func manifestCopyKey(_ label: String) -> String { "\(backupRoot)/\(label)/backup.manifest.copy" }

    public var dumpRoot: String { "\(cluster)/dump" }
    public func dumpDirectory(_ schema: String) -> String { "\(dumpRoot)/\(schema)" }
    public var logsRoot: String { "\(cluster)/logs" }
    public func logsDirectory(_ table: String) -> String { "\(logsRoot)/\(table)" }

    public var filesRoot: String { "\(cluster)/files" }
    public var packDirectory: String { "\(filesRoot)/packs" }
    public func packKey(_ name: String) -> String { "\(packDirectory)/\(name)" }
    public var chunkIndexDirectory: String { "\(filesRoot)/index" }
    public var snapshotsRoot: String { "\(filesRoot)/snapshots" }
    public func snapshotDirectory(_ tree: String) -> String { "\(snapshotsRoot)/\(tree)" }
    public static let snapshotSuffix = ".snapshot"
    public static let chunkIndexSuffix = ".index"

    /// What a key of this cluster is: the layout read backwards, so no caller parses keys itself.
    public enum Kind: Equatable, Sendable {
        case archiveInfo
        /// A WAL object: its file, and whether it sits where `directory(for:)` puts that file.
        case wal(WALFileName, inItsDirectory: Bool)
        case backupManifest(label: String)
        /// Any other object of a backup's directory (its parts).
        case backupObject(label: String, name: String)
        case dump(schema: String, name: String)
        case logs(table: String, name: String)
        /// A pack, chunk index or snapshot of `[[storage]]` trees.
        case files(name: String)
        /// Not walvault's, or not where walvault puts anything.
        case unknown
    }

    public func classify(_ key: String) -> Kind {
        guard key.hasPrefix(cluster + "/") else { return .unknown }
        let parts = key.dropFirst(cluster.count + 1).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch (parts.first, parts.count) {
        case ("archive.info", 1), ("archive.info.copy", 1):
            return .archiveInfo
        case ("wal", 2), ("wal", 3):
            guard let name = StoredObjectName(parts[parts.count - 1]), let file = WALFileName(name.originalName) else { return .unknown }
            return .wal(file, inItsDirectory: directory(for: file) + "/" + parts[parts.count - 1] == key)
        case ("backup", 3):
            return parts[2] == "backup.manifest" || parts[2] == "backup.manifest.copy"
                ? .backupManifest(label: parts[1]) : .backupObject(label: parts[1], name: parts[2])
        case ("dump", 3):
            return .dump(schema: parts[1], name: parts[2])
        case ("logs", 3):
            return .logs(table: parts[1], name: parts[2])
        case ("files", 3) where parts[1] == "packs" || parts[1] == "index":
            return .files(name: parts[2])
        case ("files", 4) where parts[1] == "snapshots":
            return .files(name: parts[3])
        default:
            return .unknown
        }
    }

    public func directory(for file: WALFileName) -> String {
        switch file {
        case .segment(let s), .partial(let s), .backupHistory(let s, _): return "\(walRoot)/\(s.directoryName)"
        case .history: return walRoot
        }
    }
}
