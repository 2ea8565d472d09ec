/// The long header at the start of every WAL segment (XLogLongPageHeaderData), which
/// carries the cluster's system identifier and segment size: enough to bind a store to
/// one cluster and to prove a file is the segment its name says, without pg_control.
public struct WALPageHeader: Equatable, Sendable {
    public static let size = 40
    static let longHeaderFlag: UInt16 = 0x0002

    /// XLOG_PAGE_MAGIC per major version; the format changes with each, so an unknown magic is refused.
    public static let magicByVersion: [UInt16: Int] = [0xD106: 13, 0xD10D: 14, 0xD110: 15, 0xD113: 16, 0xD116: 17]

    public let magic: UInt16
    public let info: UInt16
    public let timeline: UInt32
    public let pageAddress: UInt64
    public let systemIdentifier: UInt64
    public let segmentSize: Int
    public let blockSize: Int

    public var postgresVersion: Int? { Self.magicByVersion[magic] }

    public enum Problem: Error, Equatable, CustomStringConvertible {
        case tooShort(Int)
        case unknownMagic(UInt16)
        case notLongHeader
        case badSegmentSize(Int)
        case badBlockSize(Int)

        public var description: String {
            switch self {
            case .tooShort(let n): return "only \(n) bytes, too short for a WAL page header"
            case .unknownMagic(let m):
                return "unknown WAL page magic 0x\(String(m, radix: 16, uppercase: true)) (not a WAL file of PostgreSQL 13 to 17)"
            case .notLongHeader: return "the first page has no long header, so this is not the start of a WAL segment"
            case .badSegmentSize(let s): return "segment size \(s) in the header is not a power of two between 1 MiB and 1 GiB"
            case .badBlockSize(let b): return "WAL block size \(b) in the header is not a power of two between 1 KiB and 64 KiB"
            }
        }
    }

    public init(bytes: UnsafeRawBufferPointer) throws(Problem) {
        guard bytes.count >= Self.size else { throw .tooShort(bytes.count) }
        func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        magic = load(0, UInt16.self)
        info = load(2, UInt16.self)
        timeline = load(4, UInt32.self)
        pageAddress = load(8, UInt64.self)
        systemIdentifier = load(24, UInt64.self)
        segmentSize = Int(load(32, UInt32.self))
        blockSize = Int(load(36, UInt32.self))
        guard Self.magicByVersion[magic] != nil else { throw .unknownMagic(magic) }
        guard info & Self.longHeaderFlag != 0 else { throw .notLongHeader }
        guard segmentSize.nonzeroBitCount == 1, (1 << 20)...(1 << 30) ~= segmentSize else { throw .badSegmentSize(segmentSize) }
        guard blockSize.nonzeroBitCount == 1, (1 << 10)...(1 << 16) ~= blockSize else { throw .badBlockSize(blockSize) }
    }

    public init(bytes: [UInt8]) throws(Problem) {
        let copy = bytes
        var result: Result<WALPageHeader, Problem>!
        copy.withUnsafeBytes { raw in
            do throws(Problem) { result = .success(try WALPageHeader(bytes: raw)) } catch { result = .failure(error) }
        }
        self = try result.get()
    }

    /// The segment number this header's page address belongs to.
    public var segmentNumber: UInt64 { pageAddress / UInt64(segmentSize) }
}
