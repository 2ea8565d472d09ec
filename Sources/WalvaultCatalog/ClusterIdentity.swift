/// What makes WAL from one cluster unusable for another: a store directory is bound to
/// exactly one identity on its first push, and everything pushed later must match it.
public struct ClusterIdentity: Equatable, Sendable, CustomStringConvertible {
    public let systemIdentifier: UInt64
    public let walSegmentSize: Int
    public let postgresVersion: Int

    public init(systemIdentifier: UInt64, walSegmentSize: Int, postgresVersion: Int) {
        self.systemIdentifier = systemIdentifier
        self.walSegmentSize = walSegmentSize
        self.postgresVersion = postgresVersion
    }

    public init?(header: WALPageHeader) {
        guard let version = header.postgresVersion else { return nil }
        self.init(systemIdentifier: header.systemIdentifier, walSegmentSize: header.segmentSize, postgresVersion: version)
    }

    public var description: String {
        "system identifier \(systemIdentifier), PostgreSQL \(postgresVersion), \(walSegmentSize / (1 << 20)) MiB segments"
    }
}
