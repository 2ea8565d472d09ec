import WalvaultCatalog
/// Where things live inside a store, for one cluster:
///
///     <cluster>/archive.info, archive.info.copy
///     <cluster>/wal/00000002.history-<sha256>.zst
///     <cluster>/wal/0000000100000000/000000010000000000000001-<sha256>.zst
///     <cluster>/backup/<label>/part-000001-<sha256>.zst, …, backup.manifest, backup.manifest.copy
///     <cluster>/dump/<schema>/<time>-<sha256>.dump      a schema's pg_dump (ExportObjectName)
///     <cluster>/logs/<table>/<time>-<sha256>.jsonl.zst   rows exported by export-logs
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

    public func directory(for file: WALFileName) -> String {
        switch file {
        case .segment(let s), .partial(let s), .backupHistory(let s, _): return "\(walRoot)/\(s.directoryName)"
        case .history: return walRoot
        }
    }
}
