/// A pack: the chunks of one `files backup`, each compressed as its own zstd frame (so one can be
/// read without the others), then a trailer listing them, then the trailer's length (4 bytes,
/// little-endian) and "WVFPACK1". Up to 16 MiB, so 10,000 small files are a few dozen objects and
/// a pack stays under the cloud Bot API's 20 MB download. Named by the SHA-256 of its trailer,
/// which holds every chunk's name: the same chunks in the same order are the same pack, and with
/// keyed chunk names the pack's name says nothing of its content either.
public enum PackFormat {
    public static let magic = Array("WVFPACK1".utf8)
    public static let targetSize = 16 << 20
    public static let suffix = ".pack"

    public struct Chunk: Equatable, Sendable {
        public var id: ChunkID
        public var offset: Int
        public var storedLength: Int
        public var length: Int
        public init(id: ChunkID, offset: Int, storedLength: Int, length: Int) {
            self.id = id
            self.offset = offset
            self.storedLength = storedLength
            self.length = length
        }
    }

    /// The trailer's body (what the name hashes), then its length and the magic.
    public static func trailer(_ chunks: [Chunk]) -> (body: [UInt8], tail: [UInt8]) {
        var writer = BinaryWriter()
        writer.varint(chunks.count)
        for chunk in chunks {
            chunk.id.encode(into: &writer)
            writer.varint(chunk.offset)
            writer.varint(chunk.storedLength)
            writer.varint(chunk.length)
        }
        let count = UInt32(writer.bytes.count)
        return (writer.bytes, [UInt8(count & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count >> 16 & 0xFF), UInt8(count >> 24)] + magic)
    }

    /// A pack's object name for a trailer whose SHA-256 is `hex`.
    public static func name(trailerSHA256 hex: String) -> String { hex + suffix }

    public static func isName(_ name: String) -> Bool { name.hasSuffix(suffix) && name.utf8.count == 64 + suffix.utf8.count }
}
