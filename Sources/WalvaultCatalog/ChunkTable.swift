import WalvaultPipeline

/// Where chunks of file trees are stored: which pack, at which offset, how long there and once
/// decompressed. A snapshot carries the table of the chunks it uses, so it restores with nothing
/// else; each `files backup` also writes the table of the packs it added (an index object), and
/// the union of those tells the next backup what any store already holds.
public struct ChunkTable: Equatable, Sendable {
    public struct Location: Equatable, Sendable {
        /// Index into `packs`.
        public var pack: Int
        public var offset: Int
        public var storedLength: Int
        public var length: Int

        public init(pack: Int, offset: Int, storedLength: Int, length: Int) {
            self.pack = pack
            self.offset = offset
            self.storedLength = storedLength
            self.length = length
        }
    }

    /// Pack object names, without their directory.
    public private(set) var packs: [String] = []
    /// Chunk names, in the order they were added; an entry refers to a chunk by its index here.
    public private(set) var ids: [ChunkID] = []
    public private(set) var locations: [Location] = []
    private var packIndexes: [String: Int] = [:]
    private var chunkIndexes: [ChunkID: Int] = [:]

    public init() {}

    public var count: Int { ids.count }

    /// Room for `count` chunks in all, so that a table of a few hundred thousand names read or
    /// merged is not rehashed at every doubling on the way.
    public mutating func reserveCapacity(_ count: Int) {
        ids.reserveCapacity(count)
        locations.reserveCapacity(count)
        chunkIndexes.reserveCapacity(count)
    }

    public func index(of id: ChunkID) -> Int? { chunkIndexes[id] }

    /// - Returns: the chunk's index (its existing one when the table has it already).
    @discardableResult
    public mutating func add(id: ChunkID, pack: String, offset: Int, storedLength: Int, length: Int) -> Int {
        if let known = chunkIndexes[id] { return known }
        let packIndex: Int
        if let known = packIndexes[pack] {
            packIndex = known
        } else {
            packIndex = packs.count
            packs.append(pack)
            packIndexes[pack] = packIndex
        }
        chunkIndexes[id] = ids.count
        ids.append(id)
        locations.append(Location(pack: packIndex, offset: offset, storedLength: storedLength, length: length))
        return ids.count - 1
    }

    /// Copies one chunk of another table into this one.
    @discardableResult
    public mutating func add(_ index: Int, of other: ChunkTable) -> Int {
        let location = other.locations[index]
        return add(
            id: other.ids[index], pack: other.packs[location.pack], offset: location.offset, storedLength: location.storedLength,
            length: location.length)
    }

    public func encode(into writer: inout BinaryWriter) {
        writer.varint(packs.count)
        for pack in packs { writer.byteString(Array(pack.utf8)) }
        writer.varint(ids.count)
        for (id, location) in zip(ids, locations) {
            id.encode(into: &writer)
            writer.varint(location.pack)
            writer.varint(location.offset)
            writer.varint(location.storedLength)
            writer.varint(location.length)
        }
    }

    public static func decode(from reader: BinaryReader) throws -> ChunkTable {
        var table = ChunkTable()
        let packCount = try reader.int(max: 1 << 24)
        var packs: [String] = []
        for _ in 0..<packCount {
            let name = try reader.byteString(max: 200)
            guard let text = String(validating: name, as: UTF8.self), !text.isEmpty, !name.contains(UInt8(ascii: "/")) else {
                throw BinaryDecodingError("a pack name is not a plain name")
            }
            packs.append(text)
        }
        let chunkCount = try reader.int(max: 1 << 28)
        // Capped: a damaged count must not reserve gigabytes before the bytes run out.
        table.reserveCapacity(min(chunkCount, 1 << 17))
        for _ in 0..<chunkCount {
            let id = ChunkID(try reader.bytes(ChunkID.length))
            let pack = try reader.int()
            guard pack < packs.count else { throw BinaryDecodingError("a chunk names pack \(pack) of \(packs.count)") }
            let offset = try reader.int(max: Int.max)
            let stored = try reader.int(max: 1 << 30)
            let length = try reader.int(max: 1 << 30)
            table.add(id: id, pack: packs[pack], offset: offset, storedLength: stored, length: length)
        }
        return table
    }
}

/// A chunk's 32-byte name (SHA-256, or HMAC-SHA256 with `[encryption]`), held as four words so a
/// table of a few hundred thousand costs no allocation per name.
public struct ChunkID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let length = 32
    public let words: (UInt64, UInt64, UInt64, UInt64)

    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == Self.length)
        words = bytes.withUnsafeBytes { raw in
            (
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            )
        }
    }

    public var bytes: [UInt8] {
        var big = (words.0.bigEndian, words.1.bigEndian, words.2.bigEndian, words.3.bigEndian)
        return withUnsafeBytes(of: &big) { Array($0) }
    }

    public func encode(into writer: inout BinaryWriter) { writer.raw(bytes) }

    /// SHA-256 of names in order: a file's checksum (`TreeEntry.sha256`).
    public static func digest(_ ids: [ChunkID]) -> [UInt8] {
        let hasher = SHA256Hasher()
        for id in ids { id.bytes.withUnsafeBytes { hasher.update($0) } }
        return hasher.finalizeBytes()
    }

    public static func == (a: ChunkID, b: ChunkID) -> Bool { a.words == b.words }
    /// One word is enough: a name is a cryptographic hash, and a table is never fed chosen names.
    public func hash(into hasher: inout Hasher) { hasher.combine(words.0) }
    public static func < (a: ChunkID, b: ChunkID) -> Bool { a.words < b.words }

    public var description: String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }
}
