#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One snapshot of a `[[storage]]` tree: what `files restore` brings back. Stored as one object,
///
///     "WVFSNAP1", the header (JSON), the chunk table, the entries in tree order, a zero, "WVFSEND1"
///
/// compressed and, with `[encryption]`, encrypted like every object. The chunk table comes
/// before the entries so a restore knows where every chunk lives before it meets the first file;
/// the end marker tells a complete snapshot from one cut short.
public enum FileSnapshot {
    public static let magic = Array("WVFSNAP1".utf8)
    public static let endMarker = Array("WVFSEND1".utf8)

    public struct Header: Codable, Equatable, Sendable {
        public var format = 1
        /// The `[[storage]]` entry's name.
        public var name: String
        /// The snapshot's ID: its start time, UTC, as `files list` shows it.
        public var id: String
        /// When the walk began (µs since the epoch): `--as-of` compares it.
        public var time: Int64
        public var seconds: Double
        /// Where the tree was, as the config said then (shown, never used to restore).
        public var root: String
        public var files: Int
        public var directories: Int
        public var symlinks: Int
        /// The files' bytes.
        public var bytes: Int
        /// Bytes of chunks no store held before this snapshot, and what they took stored.
        public var newBytes: Int
        public var newStoredBytes: Int
        /// Files that kept changing while they were read, recorded as last read and flagged.
        public var inconsistent: Int
        /// The chunk-name scheme: "sha256" or "hmac-sha256" (a key derived from the passphrase).
        public var chunkNames: String

        public init(
            name: String, id: String, time: Int64, seconds: Double = 0, root: String, files: Int = 0, directories: Int = 0, symlinks: Int = 0,
            bytes: Int = 0, newBytes: Int = 0, newStoredBytes: Int = 0, inconsistent: Int = 0, chunkNames: String
        ) {
            self.name = name
            self.id = id
            self.time = time
            self.seconds = seconds
            self.root = root
            self.files = files
            self.directories = directories
            self.symlinks = symlinks
            self.bytes = bytes
            self.newBytes = newBytes
            self.newStoredBytes = newStoredBytes
            self.inconsistent = inconsistent
            self.chunkNames = chunkNames
        }
    }

    public static func encodeStart(header: Header, table: ChunkTable) throws -> [UInt8] {
        var writer = BinaryWriter()
        writer.raw(magic)
        writer.byteString(Array(try JSONEncoder().encode(header)))
        table.encode(into: &writer)
        return writer.bytes
    }

    public static func encodeEnd() -> [UInt8] { [0] + endMarker }

    /// Reads a snapshot's header and chunk table; its entries follow, read with `nextEntry`.
    public static func decodeStart(from reader: BinaryReader) throws -> (Header, ChunkTable) {
        try reader.expect(magic, what: "a walvault file snapshot")
        let header = try decodeHeader(try reader.byteString(max: 1 << 20))
        return (header, try ChunkTable.decode(from: reader))
    }

    public static func decodeHeader(_ json: [UInt8]) throws -> Header {
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(json))
        } catch {
            throw BinaryDecodingError("its header is not readable JSON")
        }
        guard header.format == 1 else {
            throw BinaryDecodingError("it is in format \(header.format), which this walvault does not know: upgrade walvault")
        }
        return header
    }

    /// The next entry, or nil at the end marker. - Parameter chunkCount: the table's size, which every reference must be under.
    public static func nextEntry(from reader: BinaryReader, chunkCount: Int) throws -> TreeEntry? {
        guard let entry = try TreeEntry.decode(from: reader, chunkCount: chunkCount) else {
            try reader.expect(endMarker, what: "a complete snapshot")
            guard try reader.isAtEnd() else { throw BinaryDecodingError("bytes follow its end") }
            return nil
        }
        return entry
    }
}

/// A file, directory or symlink of a snapshot. Its path is bytes, relative to the tree's root
/// ("" is the root itself), components joined by '/'.
public struct TreeEntry: Equatable, Sendable {
    public enum Kind: UInt8, Sendable { case file = 1, directory = 2, symlink = 3 }

    public var kind: Kind
    public var path: [UInt8]
    /// Permission bits, set-id and sticky bits (no type bits).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// Nanoseconds since the epoch.
    public var mtime: Int64
    public var size = 0
    /// What tells an unchanged file without reading it: size, mtime, ctime and inode all the same.
    public var ctime: Int64 = 0
    public var inode: UInt64 = 0
    /// The file kept changing while it was read; its bytes are those of the last read.
    public var inconsistent = false
    /// The file's checksum: SHA-256 of its chunks' names in order. Each name is the SHA-256 (or
    /// HMAC) of the chunk's bytes, so this covers every byte, and a backup hashes each byte once;
    /// a restore reads each file back chunk by chunk and checks every chunk's name.
    public var sha256: [UInt8] = []
    /// Indexes into the snapshot's chunk table, in file order.
    public var chunks: [Int] = []
    /// A symlink's target, as bytes.
    public var target: [UInt8] = []

    public static func digest(of chunks: [ChunkID]) -> [UInt8] { ChunkID.digest(chunks) }

    public init(kind: Kind, path: [UInt8], mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0, mtime: Int64) {
        self.kind = kind
        self.path = path
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
    }

    public func encode(into writer: inout BinaryWriter) {
        writer.byte(kind.rawValue)
        writer.byteString(path)
        writer.varint(UInt64(mode))
        writer.varint(UInt64(uid))
        writer.varint(UInt64(gid))
        writer.signed(mtime)
        switch kind {
        case .file:
            writer.varint(size)
            writer.signed(ctime)
            writer.varint(inode)
            writer.varint(inconsistent ? 1 : 0)
            writer.raw(sha256)
            writer.varint(chunks.count)
            for chunk in chunks { writer.varint(chunk) }
        case .symlink:
            writer.byteString(target)
        case .directory:
            break
        }
    }

    static func decode(from reader: BinaryReader, chunkCount: Int) throws -> TreeEntry? {
        let tag = try reader.byte()
        if tag == 0 { return nil }
        guard let kind = Kind(rawValue: tag) else { throw BinaryDecodingError("an entry has the unknown kind \(tag)") }
        let path = try reader.byteString(max: 1 << 16)
        guard TreePath.isValid(path) else { throw BinaryDecodingError("an entry's path is not a relative path") }
        var entry = TreeEntry(
            kind: kind, path: path, mode: UInt32(try reader.int(max: 0o7777)), uid: UInt32(try reader.int(max: Int(UInt32.max))),
            gid: UInt32(try reader.int(max: Int(UInt32.max))), mtime: try reader.signed())
        switch kind {
        case .file:
            entry.size = try reader.int(max: Int.max)
            entry.ctime = try reader.signed()
            entry.inode = try reader.varint()
            entry.inconsistent = try reader.int(max: 1) == 1
            entry.sha256 = try reader.bytes(32)
            let count = try reader.int(max: 1 << 28)
            entry.chunks.reserveCapacity(count)
            for _ in 0..<count {
                let chunk = try reader.int()
                guard chunk < chunkCount else { throw BinaryDecodingError("a file names chunk \(chunk) of \(chunkCount)") }
                entry.chunks.append(chunk)
            }
        case .symlink:
            entry.target = try reader.byteString(max: 1 << 16)
        case .directory:
            break
        }
        return entry
    }
}

/// Relative paths of a tree, as bytes.
public enum TreePath {
    /// "" or components joined by '/', none empty, ".", ".." or holding a NUL: nothing a restore
    /// could follow out of its directory.
    public static func isValid(_ path: [UInt8]) -> Bool {
        if path.isEmpty { return true }
        for component in path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            if component.isEmpty || component.elementsEqual([46]) || component.elementsEqual([46, 46]) || component.contains(0) { return false }
        }
        return true
    }

    public static func join(_ parent: [UInt8], _ name: [UInt8]) -> [UInt8] {
        parent.isEmpty ? name : parent + [UInt8(ascii: "/")] + name
    }

    /// Whether `ancestor` is a directory above `path` ("" is above every other path).
    public static func isAncestor(_ ancestor: [UInt8], of path: [UInt8]) -> Bool {
        ancestor.isEmpty ? !path.isEmpty : path.count > ancestor.count && path.starts(with: ancestor) && path[ancestor.count] == UInt8(ascii: "/")
    }

    /// The order a walk visits paths in (each directory's names sorted by their bytes, a directory
    /// before what it holds): bytes compared with '/' below every other byte.
    public static func precedes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let count = min(a.count, b.count)
        var index = 0
        while index < count {
            let x = a[index]
            let y = b[index]
            if x != y {
                if x == 47 { return true }
                if y == 47 { return false }
                return x < y
            }
            index += 1
        }
        return a.count < b.count
    }

    /// Shown to a person: the bytes as UTF-8, with anything else (and control characters) escaped.
    public static func shown(_ path: [UInt8]) -> String {
        var text = ""
        var rest = path[...]
        while !rest.isEmpty {
            if let (scalar, length) = decodeScalar(rest), scalar.value >= 0x20, scalar.value != 0x7F {
                text.unicodeScalars.append(scalar)
                rest = rest.dropFirst(length)
            } else {
                text += "\\x" + String(rest.first!, radix: 16, uppercase: false).leftPadded(2)
                rest = rest.dropFirst()
            }
        }
        return text
    }

    private static func decodeScalar(_ bytes: ArraySlice<UInt8>) -> (Unicode.Scalar, Int)? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        switch decoder.decode(&iterator) {
        case .scalarValue(let scalar): return (scalar, UTF8.width(scalar))
        default: return nil
        }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
