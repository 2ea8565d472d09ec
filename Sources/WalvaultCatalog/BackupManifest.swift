import WalvaultPipeline

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Everything needed to rebuild a cluster from one base backup and the backups it references, from
/// the stores alone. Written last: a backup directory without a manifest is incomplete and is never
/// chosen for restore, nor as another backup's prior.
///
/// File contents travel in parts: each part is one compressed stream of at most `partSize`
/// original bytes, holding pieces of files, so that no object exceeds the size limit of stores such
/// as Telegram (20 MiB downloads) however large a relation file is. Each file lists, in file order,
/// the ranges that hold its bytes: in this backup's parts, or (diff and incr) in a part of an
/// earlier backup, named in `references`.
///
/// Format 2 names a part by the SHA-256 of the bytes it stores (compressed, before encryption), so
/// the original bytes are hashed once, for their file's SHA-256. Format 1 (walvault 0.1) named a
/// part by the SHA-256 of its original bytes and had full backups only; it is still read.
public struct BackupManifest: Codable, Equatable, Sendable {
    public static let formatVersion = 2
    public static let supportedFormats = 1...2
    /// The unit of a block map: PostgreSQL's page.
    public static let blockSize = 8192

    public var format = BackupManifest.formatVersion
    public var type: BackupLevel = .full
    /// The backup this one stored its changes against (diff, incr).
    public var prior: String?
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
    /// This backup's own data parts.
    public var parts: [Part]
    /// This backup's block-map parts: per relation file, an XXH3-64 per 8 KiB block, which the next
    /// diff or incr compares with instead of reading this backup's data.
    public var mapParts: [Part] = []
    /// Earlier backups whose parts hold some of this backup's bytes, with those parts.
    public var references: [Reference] = []
    /// Every file, directory and link, with where its bytes are. Not there in a summary.
    public var entries: [Entry] {
        get {
            precondition(!isSummary, "backup \(label)'s manifest was read as a summary: read it whole (Inventory.manifest) to use its files")
            return storedEntries
        }
        set {
            storedEntries = newValue
            isSummary = false
        }
    }
    private var storedEntries: [Entry]
    /// Read with `decode(_:entries: false)`: the header, parts and references, and the count and
    /// size of the files, without where each file's bytes are. What an inventory keeps of every
    /// backup: an incremental's ranges are most of its manifest, and only the backup restored or
    /// built on needs them.
    public private(set) var isSummary = false
    private var summaryFileCount = 0
    private var summaryTotalSize = 0

    public struct Tablespace: Codable, Equatable, Sendable {
        public var oid: String
        public var location: String
        public init(oid: String, location: String) {
            self.oid = oid
            self.location = location
        }
    }

    public struct Part: Codable, Equatable, Sendable {
        /// Object name inside its backup's directory.
        public var name: String
        /// What ranges call it: `data-000001` is 1 (format 1: its place in `parts`, from 1).
        public var number: Int
        /// Original (uncompressed) bytes.
        public var size: Int
        public var storedSize: Int
        /// Format 2: of the stored bytes; format 1: of the original bytes.
        public var sha256: String
        public init(name: String, number: Int, size: Int, storedSize: Int, sha256: String) {
            self.name = name
            self.number = number
            self.size = size
            self.storedSize = storedSize
            self.sha256 = sha256
        }

        private enum CodingKeys: String, CodingKey { case name, number, size, storedSize, sha256 }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            // Format 1 has no number: the manifest numbers its parts by place.
            number = try c.decodeIfPresent(Int.self, forKey: .number) ?? 0
            size = try c.decode(Int.self, forKey: .size)
            storedSize = try c.decode(Int.self, forKey: .storedSize)
            sha256 = try c.decode(String.self, forKey: .sha256)
        }
    }

    /// An earlier backup and the parts of it that this one reads.
    public struct Reference: Codable, Equatable, Sendable {
        public var label: String
        public var parts: [Part]
        public init(label: String, parts: [Part]) {
            self.label = label
            self.parts = parts
        }
    }

    /// `length` bytes of a file, at `offset` in the original bytes of part `part` of `source`:
    /// 0 is this backup, k the k-th of `references`. A file's ranges are written packed
    /// (`PackedRanges`); each was `[source, part, offset, length]` before, which is still read.
    public struct Range: Codable, Equatable, Sendable {
        public var source: Int
        public var part: Int
        public var offset: Int
        public var length: Int
        public init(source: Int, part: Int, offset: Int, length: Int) {
            self.source = source
            self.part = part
            self.offset = offset
            self.length = length
        }

        public init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            source = try c.decode(Int.self)
            part = try c.decode(Int.self)
            offset = try c.decode(Int.self)
            length = try c.decode(Int.self)
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.unkeyedContainer()
            try c.encode(source)
            try c.encode(part)
            try c.encode(offset)
            try c.encode(length)
        }
    }

    /// Where a relation file's block map is: `length` bytes (8 per block) of map part `part`.
    public struct MapRange: Codable, Equatable, Sendable {
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
        public var ranges: [Range]?
        public var map: MapRange?
        public var target: String?
        public init(
            path: String, kind: Kind, mode: UInt32, size: Int? = nil, sha256: String? = nil,
            ranges: [Range]? = nil, map: MapRange? = nil, target: String? = nil
        ) {
            self.path = path
            self.kind = kind
            self.mode = mode
            self.size = size
            self.sha256 = sha256
            self.ranges = ranges
            self.map = map
            self.target = target
        }

        private enum CodingKeys: String, CodingKey { case path, kind, mode, size, sha256, packedRanges, ranges, chunks, map, target }
        /// Format 1's `chunks` (`{part, offset, length}`, all in this backup) are read as ranges.
        private struct Chunk: Decodable {
            var part: Int
            var offset: Int
            var length: Int
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            path = try c.decode(String.self, forKey: .path)
            kind = try c.decode(Kind.self, forKey: .kind)
            mode = try c.decode(UInt32.self, forKey: .mode)
            size = try c.decodeIfPresent(Int.self, forKey: .size)
            sha256 = try c.decodeIfPresent(String.self, forKey: .sha256)
            if let packed = try c.decodeIfPresent(String.self, forKey: .packedRanges) {
                do {
                    ranges = try PackedRanges.decode(packed)
                } catch let damaged as PackedRanges.Damaged {
                    throw DecodingError.dataCorruptedError(forKey: .packedRanges, in: c, debugDescription: "\(path): \(damaged.reason)")
                }
            } else if let ranges = try c.decodeIfPresent([Range].self, forKey: .ranges) {
                self.ranges = ranges
            } else {
                ranges = try c.decodeIfPresent([Chunk].self, forKey: .chunks)?.map {
                    Range(source: 0, part: $0.part, offset: $0.offset, length: $0.length)
                }
            }
            map = try c.decodeIfPresent(MapRange.self, forKey: .map)
            target = try c.decodeIfPresent(String.self, forKey: .target)
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(path, forKey: .path)
            try c.encode(kind, forKey: .kind)
            try c.encode(mode, forKey: .mode)
            try c.encodeIfPresent(size, forKey: .size)
            try c.encodeIfPresent(sha256, forKey: .sha256)
            try c.encodeIfPresent(ranges.map(PackedRanges.encode), forKey: .packedRanges)
            try c.encodeIfPresent(map, forKey: .map)
            try c.encodeIfPresent(target, forKey: .target)
        }
    }

    public init(
        label: String, cluster: String, systemIdentifier: String, postgresVersion: Int, walSegmentSize: Int,
        timeline: UInt32, startLSN: LSN, stopLSN: LSN, startTime: Int64, stopTime: Int64, walvaultVersion: String,
        compression: String, backupLabel: String, tablespaceMap: String?, tablespaces: [Tablespace], parts: [Part],
        entries: [Entry], type: BackupLevel = .full, prior: String? = nil, mapParts: [Part] = [], references: [Reference] = []
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
        self.storedEntries = entries
        self.type = type
        self.prior = prior
        self.mapParts = mapParts
        self.references = references
    }

    public var totalSize: Int { isSummary ? summaryTotalSize : entries.reduce(0) { $0 + ($1.size ?? 0) } }
    /// Regular files, empty ones included.
    public var fileCount: Int { isSummary ? summaryFileCount : entries.reduce(0) { $0 + ($1.kind == .file ? 1 : 0) } }
    /// What this backup stored itself: its data and map parts, not what it references.
    public var storedSize: Int { (parts + mapParts).reduce(0) { $0 + $1.storedSize } }
    /// Every earlier backup this one needs, oldest first: the chain down to its full.
    public var chain: [String] { references.map(\.label) }

    /// The label of a range's source.
    public func label(ofSource source: Int) -> String { source == 0 ? label : references[source - 1].label }

    /// One part of this backup or of a referenced one.
    public struct PartKey: Hashable, Sendable {
        public let source: Int
        public let number: Int
        public init(source: Int, number: Int) {
            self.source = source
            self.number = number
        }
    }

    /// Every part a restore of this backup reads, own first, each with its backup's label.
    public var partsRead: [(key: PartKey, label: String, part: Part)] {
        parts.map { (PartKey(source: 0, number: $0.number), label, $0) }
            + references.enumerated().flatMap { index, reference in
                reference.parts.map { (PartKey(source: index + 1, number: $0.number), reference.label, $0) }
            }
    }

    /// The parts a restore reads that no store shows, as `<label>/<name>`, given what each backup's
    /// directory holds across the stores.
    public func missingParts(present: [String: Set<String>]) -> [String] {
        partsRead.filter { !(present[$0.label]?.contains($0.part.name) ?? false) }.map { "\($0.label)/\($0.part.name)" }
    }

    /// The ranges name only parts the manifest lists, and add up to each file's size: what every
    /// reader checks before it places a byte.
    public func checkRanges() throws {
        let known = Set(partsRead.map(\.key))
        for entry in entries where entry.kind == .file {
            var total = 0
            for range in entry.ranges ?? [] {
                guard range.source >= 0, range.source <= references.count, known.contains(PartKey(source: range.source, number: range.part)) else {
                    throw CatalogError(
                        problem: "backup \(label)'s manifest places bytes of \(entry.path) in a part it does not list",
                        fix: "the backup is damaged; choose another with --backup")
                }
                total += range.length
            }
            guard total == (entry.size ?? 0) else {
                throw CatalogError(
                    problem: "backup \(label) lists \(total) bytes in parts for \(entry.path), which is \(entry.size ?? 0) bytes long",
                    fix: "the backup is damaged; choose another with --backup")
            }
        }
    }

    public func startSegment() -> WALSegmentName {
        WALSegmentName(timeline: timeline, segmentNumber: startLSN.segmentNumber(segmentSize: walSegmentSize), segmentSize: walSegmentSize)
    }

    public func stopSegment() -> WALSegmentName {
        WALSegmentName(
            timeline: timeline, segmentNumber: stopLSN.previousByteSegmentNumber(segmentSize: walSegmentSize),
            segmentSize: walSegmentSize)
    }

    /// JSON; past `compressAbove` bytes, a zstd frame of it. An incremental of a busy database lists
    /// a range per run of changed pages, which JSON spells out at length and zstd shrinks about
    /// tenfold, so a manifest stays far below the 20 MiB a Telegram document may hold.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = Array(try encoder.encode(self))
        guard json.count > Self.compressAbove else { return json }
        let sink = MemorySink()
        let compressor = try Compression.compressor(.zstd, level: 3, sizeHint: json.count, threads: 0, next: sink)
        try json.withUnsafeBytes { try compressor.write($0) }
        try compressor.finish()
        return sink.bytes
    }

    public static let compressAbove = 1 << 20
    /// What a compressed manifest may expand to: more is a damaged or hostile object, not a backup.
    public static let largestManifest = 256 << 20
    static let zstdMagic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]

    /// - Parameter entries: false reads a summary (see `isSummary`).
    public static func decode(_ bytes: [UInt8], entries: Bool = true) throws -> BackupManifest {
        var json = bytes
        if bytes.starts(with: zstdMagic) {
            let sink = CappedSink(limit: largestManifest)
            do {
                let decompressor = try Compression.decompressor(.zstd, next: sink)
                try bytes.withUnsafeBytes { try decompressor.write($0) }
                try decompressor.finish()
            } catch let error as PipelineError {
                throw CatalogError(
                    problem: "a compressed backup manifest cannot be read: \(error.message)", fix: "the manifest is damaged; its copy stands in")
            }
            json = sink.bytes
        }
        let decoder = JSONDecoder()
        if !entries { decoder.userInfo[summaryOnly] = true }
        var manifest = try decoder.decode(BackupManifest.self, from: Data(json))
        guard supportedFormats.contains(manifest.format) else {
            throw CatalogError(problem: "backup manifest format \(manifest.format) is not supported", fix: "use a newer walvault")
        }
        if manifest.format == 1 {
            for index in manifest.parts.indices { manifest.parts[index].number = index + 1 }
        }
        return manifest
    }

    static let summaryOnly = CodingUserInfoKey(rawValue: "walvault.manifest.summaryOnly")!

    /// What a summary reads of an entry; the ranges beside it are scanned, never built.
    private struct EntrySummary: Decodable {
        var kind: Kind
        var size: Int?
    }

    /// Collects up to `limit` bytes and refuses more.
    final class CappedSink: ByteSink {
        private(set) var bytes: [UInt8] = []
        let limit: Int
        init(limit: Int) { self.limit = limit }
        func write(_ chunk: UnsafeRawBufferPointer) throws {
            guard bytes.count + chunk.count <= limit else {
                throw PipelineError(stage: "manifest", "expands past \(limit >> 20) MiB")
            }
            bytes.append(contentsOf: chunk)
        }
        func finish() throws {}
    }

    private enum CodingKeys: String, CodingKey {
        case format, type, prior, label, cluster, systemIdentifier, postgresVersion, walSegmentSize, timeline, startLSN, stopLSN
        case startTime, stopTime, walvaultVersion, compression, backupLabel, tablespaceMap, tablespaces, parts, mapParts, references
        case entries
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(type, forKey: .type)
        try c.encodeIfPresent(prior, forKey: .prior)
        try c.encode(label, forKey: .label)
        try c.encode(cluster, forKey: .cluster)
        try c.encode(systemIdentifier, forKey: .systemIdentifier)
        try c.encode(postgresVersion, forKey: .postgresVersion)
        try c.encode(walSegmentSize, forKey: .walSegmentSize)
        try c.encode(timeline, forKey: .timeline)
        try c.encode(startLSN, forKey: .startLSN)
        try c.encode(stopLSN, forKey: .stopLSN)
        try c.encode(startTime, forKey: .startTime)
        try c.encode(stopTime, forKey: .stopTime)
        try c.encode(walvaultVersion, forKey: .walvaultVersion)
        try c.encode(compression, forKey: .compression)
        try c.encode(backupLabel, forKey: .backupLabel)
        try c.encodeIfPresent(tablespaceMap, forKey: .tablespaceMap)
        try c.encode(tablespaces, forKey: .tablespaces)
        try c.encode(parts, forKey: .parts)
        try c.encode(mapParts, forKey: .mapParts)
        try c.encode(references, forKey: .references)
        try c.encode(entries, forKey: .entries)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(Int.self, forKey: .format)
        type = try c.decodeIfPresent(BackupLevel.self, forKey: .type) ?? .full
        prior = try c.decodeIfPresent(String.self, forKey: .prior)
        label = try c.decode(String.self, forKey: .label)
        cluster = try c.decode(String.self, forKey: .cluster)
        systemIdentifier = try c.decode(String.self, forKey: .systemIdentifier)
        postgresVersion = try c.decode(Int.self, forKey: .postgresVersion)
        walSegmentSize = try c.decode(Int.self, forKey: .walSegmentSize)
        timeline = try c.decode(UInt32.self, forKey: .timeline)
        startLSN = try c.decode(LSN.self, forKey: .startLSN)
        stopLSN = try c.decode(LSN.self, forKey: .stopLSN)
        startTime = try c.decode(Int64.self, forKey: .startTime)
        stopTime = try c.decode(Int64.self, forKey: .stopTime)
        walvaultVersion = try c.decode(String.self, forKey: .walvaultVersion)
        compression = try c.decode(String.self, forKey: .compression)
        backupLabel = try c.decode(String.self, forKey: .backupLabel)
        tablespaceMap = try c.decodeIfPresent(String.self, forKey: .tablespaceMap)
        tablespaces = try c.decode([Tablespace].self, forKey: .tablespaces)
        parts = try c.decode([Part].self, forKey: .parts)
        mapParts = try c.decodeIfPresent([Part].self, forKey: .mapParts) ?? []
        references = try c.decodeIfPresent([Reference].self, forKey: .references) ?? []
        if decoder.userInfo[Self.summaryOnly] as? Bool == true {
            let summaries = try c.decode([EntrySummary].self, forKey: .entries)
            storedEntries = []
            isSummary = true
            summaryFileCount = summaries.reduce(0) { $0 + ($1.kind == .file ? 1 : 0) }
            summaryTotalSize = summaries.reduce(0) { $0 + ($1.size ?? 0) }
        } else {
            storedEntries = try c.decode([Entry].self, forKey: .entries)
        }
    }
}
