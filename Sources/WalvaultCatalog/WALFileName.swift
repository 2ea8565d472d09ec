import WalvaultSystem

/// Every kind of file PostgreSQL's archiver hands to archive_command. Anything else is
/// refused: guessing what an unknown file is could store garbage under a WAL name.
public enum WALFileName: Hashable, Sendable, CustomStringConvertible {
    /// `000000010000000000000001`
    case segment(WALSegmentName)
    /// `000000010000000000000001.partial`: the last, incomplete segment of an old timeline after promotion.
    case partial(WALSegmentName)
    /// `00000002.history`: the timeline history written at promotion.
    case history(timeline: UInt32)
    /// `000000010000000000000002.00000028.backup`: the backup history file written by pg_backup_stop.
    case backupHistory(WALSegmentName, offset: UInt32)

    public init?(_ name: String) {
        let utf8 = name.utf8
        if let segment = WALSegmentName(name) {
            self = .segment(segment)
        } else if utf8.count == 32, name.hasSuffix(".partial"), let segment = WALSegmentName(name.prefix(24)) {
            self = .partial(segment)
        } else if utf8.count == 16, name.hasSuffix(".history"), Hex.isUppercaseHex(name.prefix(8), count: 8),
            let timeline = UInt32(name.prefix(8), radix: 16), timeline > 0
        {
            self = .history(timeline: timeline)
        } else if utf8.count == 40, name.hasSuffix(".backup"), let segment = WALSegmentName(name.prefix(24)),
            name.dropFirst(24).first == ".", Hex.isUppercaseHex(name.dropFirst(25).prefix(8), count: 8),
            let offset = UInt32(name.dropFirst(25).prefix(8), radix: 16)
        {
            self = .backupHistory(segment, offset: offset)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .segment(let s): return s.description
        case .partial(let s): return s.description + ".partial"
        case .history(let tli): return WALSegmentName.hex8(tli) + ".history"
        case .backupHistory(let s, let offset): return s.description + "." + WALSegmentName.hex8(offset) + ".backup"
        }
    }

    /// Files whose first page carries a long header with the cluster's identity.
    public var segmentName: WALSegmentName? {
        switch self {
        case .segment(let s), .partial(let s): return s
        case .history, .backupHistory: return nil
        }
    }

    public var timeline: UInt32 {
        switch self {
        case .segment(let s), .partial(let s), .backupHistory(let s, _): return s.timeline
        case .history(let tli): return tli
        }
    }

    public var kindDescription: String {
        switch self {
        case .segment: return "WAL segment"
        case .partial: return "partial WAL segment"
        case .history: return "timeline history file"
        case .backupHistory: return "backup history file"
        }
    }
}
