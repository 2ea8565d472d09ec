import COpenSSL
import WalvaultCatalog
import WalvaultSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One row of `control_plane.backups`. It gets its `recordID` before the first attempt to store
/// it, so that a journal replay after any crash inserts it exactly once.
public struct HistoryRecord: Codable, Equatable, Sendable {
    public typealias Kind = BackupType
    /// `interrupted`: a job its server was running when it stopped (killed, the machine restarted).
    public enum Status: String, Codable, Sendable { case succeeded, failed, interrupted }

    public var recordID: String
    public var projectID: String
    public var type: Kind
    public var operation: String
    public var status: Status
    public var fileID: String?
    public var storeName: String?
    public var objectName: String?
    public var size: Int?
    public var storedSize: Int?
    public var sha256: String?
    public var clusterName: String?
    public var systemIdentifier: String?
    public var timeline: Int?
    public var startLSN: String?
    public var stopLSN: String?
    public var error: String?
    public var durationMs: Int?
    /// Microseconds since the epoch.
    public var createdAt: Int64
    public var expiresAt: Int64?
    /// Logical exports (migration 0003): the schema of a dump; the rows, time range (µs, end
    /// excluded) and rows deleted of an export-logs run.
    public var schemaName: String?
    public var rowCount: Int?
    public var rangeStart: Int64?
    public var rangeEnd: Int64?
    public var rowsDeleted: Int?
    /// Who and from where (migration 0004), and a failed row's stable error code.
    public var actor: String?
    public var origin: String?
    public var errorCode: String?

    public init(
        projectID: String, type: Kind, operation: String, status: Status, createdAt: Int64 = HistoryRecord.now(),
        retentionDays: Int?
    ) {
        recordID = HistoryRecord.newID()
        self.projectID = projectID
        self.type = type
        self.operation = operation
        self.status = status
        self.createdAt = createdAt
        expiresAt = retentionDays.map { createdAt + Int64($0) * 86_400 * 1_000_000 }
    }

    public static func now() -> Int64 { WallClock.nowMicros() }

    /// A random (version 4) UUID from OpenSSL's generator.
    public static func newID() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        _ = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, 16) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = Hex.encode(bytes)
        let h = Array(hex)
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-" + String(h[20..<32])
    }

    public func jsonLine() throws -> [UInt8] {
        Array(try JSONEncoder().encode(self)) + [10]
    }

    public static func decode(line: Substring) throws -> HistoryRecord {
        try JSONDecoder().decode(HistoryRecord.self, from: Data(line.utf8))
    }
}
