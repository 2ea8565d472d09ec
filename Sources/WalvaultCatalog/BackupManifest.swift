#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Everything needed to rebuild a cluster from one base backup, from the stores alone. Written
/// last: a backup directory without a manifest is incomplete and is never chosen for restore.
///
/// File contents travel in parts: each part is one compressed stream of at most `partSize`
/// original bytes, holding pieces of files in manifest order, so that no object exceeds the size
/// limit of stores such as Telegram (20 MiB downloads) however large a relation file is.
public struct BackupManifest: Codable, Equatable, Sendable {
    public static let formatVersion = 1

    public var format = BackupManifest.formatVersion
    public var label: String
    public var cluster: String
    public var systemIdentifier: String
    public var postgresVersion: Int
    public var walSegmentSize: Int
    public var timeline: UInt32
    public var startLSN: LSN
    public var stopLSN: LSN
    /// Microseconds since the Unix epoch, from the database server's clock.
    public var startTime: Int64
    public var stopTime: Int64
    public var walvaultVersion: String
    public var compression: String
    /// The backup_label content pg_backup_stop returned; restore writes it into the data directory.
    public var backupLabel: String
    public var tablespaceMap: String?
    public var tablespaces: [Tablespace]
    public var parts: [Part]
    public var entries: [Entry]

    public struct Tablespace: Codable, Equatable, Sendable {
        public var oid: String
        public var location: String
        public init(oid: String, location: String) {
            self.oid = oid
            self.location = location
        }
    }

    public struct Part: Codable, Equatable, Sendable {
        /// Object name inside the backup's directory.
        public var name: String
        public var size: Int
        public var storedSize: Int
        public var sha256: String
        public init(name: String, size: Int, storedSize: Int, sha256: String) {
            self.name = name
            self.size = size
            self.storedSize = storedSize
            self.sha256 = sha256
        }
    }

    public struct Chunk: Codable, Equatable, Sendable {
        public var part: Int
        public var offset: Int
        public var length: Int
        public init(part: Int, offset: Int, length: Int) {
            self.part = part
            self.offset = offset
            self.length = length
        }
    }

    public enum Kind: String, Codable, Sendable { case file, directory, symlink }

    public struct Entry: Codable, Equatable, Sendable {
        /// Relative to the data directory; tablespace files live under `pg_tblspc/<oid>/`.
        public var path: String
        public var kind: Kind
        public var mode: UInt32
        public var size: Int?
        public var sha256: String?
        public var chunks: [Chunk]?
        public var target: String?
        public init(
            path: String, kind: Kind, mode: UInt32, size: Int? = nil, sha256: String? = nil,
            chunks: [Chunk]? = nil, target: String? = nil
        ) {
            self.path = path
            self.kind = kind
            self.mode = mode
            self.size = size
            self.sha256 = sha256
            self.chunks = chunks
            self.target = target
        }
    }

    public init(
        label: String, cluster: String, systemIdentifier: String, postgresVersion: Int, walSegmentSize: Int,
        timeline: UInt32, startLSN: LSN, stopLSN: LSN, startTime: Int64, stopTime: Int64, walvaultVersion: String,
        compression: String, backupLabel: String, tablespaceMap: String?, tablespaces: [Tablespace], parts: [Part],
        entries: [Entry]
    ) {
        self.label = label
        self.cluster = cluster
        self.systemIdentifier = systemIdentifier
        self.postgresVersion = postgresVersion
        self.walSegmentSize = walSegmentSize
        self.timeline = timeline
        self.startLSN = startLSN
        self.stopLSN = stopLSN
        self.startTime = startTime
        self.stopTime = stopTime
        self.walvaultVersion = walvaultVersion
        self.compression = compression
        self.backupLabel = backupLabel
        self.tablespaceMap = tablespaceMap
        self.tablespaces = tablespaces
        self.parts = parts
        self.entries = entries
    }

    public var totalSize: Int { entries.reduce(0) { $0 + ($1.size ?? 0) } }
    public var storedSize: Int { parts.reduce(0) { $0 + $1.storedSize } }

    public func startSegment() -> WALSegmentName {
        WALSegmentName(timeline: timeline, segmentNumber: startLSN.segmentNumber(segmentSize: walSegmentSize), segmentSize: walSegmentSize)
    }

    public func stopSegment() -> WALSegmentName {
        WALSegmentName(
            timeline: timeline, segmentNumber: stopLSN.previousByteSegmentNumber(segmentSize: walSegmentSize),
            segmentSize: walSegmentSize)
    }

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return Array(try encoder.encode(self))
    }

    public static func decode(_ bytes: [UInt8]) throws -> BackupManifest {
        let manifest = try JSONDecoder().decode(BackupManifest.self, from: Data(bytes))
        guard manifest.format == formatVersion else {
            throw CatalogError(problem: "backup manifest format \(manifest.format) is not supported", fix: "use a newer walvault")
        }
        return manifest
    }
}
