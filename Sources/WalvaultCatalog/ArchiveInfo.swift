import TOMLKit

/// The `archive.info` file: the identity a store directory is bound to. It is TOML like the
/// config, small, and written twice (`archive.info` and `archive.info.copy`, as pgBackRest
/// does) so that losing one file to a bad sector does not unbind the store.
public struct ArchiveInfo: Equatable, Sendable {
    public static let formatVersion = 1
    public let identity: ClusterIdentity

    public init(identity: ClusterIdentity) { self.identity = identity }

    public func encoded() -> [UInt8] {
        let text = """
            # walvault archive info: the PostgreSQL cluster whose WAL this directory holds. Do not edit.
            format = \(Self.formatVersion)
            system_identifier = "\(identity.systemIdentifier)"
            wal_segment_size = \(identity.walSegmentSize)
            postgres_version = \(identity.postgresVersion)

            """
        return Array(text.utf8)
    }

    public enum DecodeProblem: Error, Equatable, CustomStringConvertible {
        case notText
        case invalid(String)
        case unsupportedFormat(Int)

        public var description: String {
            switch self {
            case .notText: return "not UTF-8 text"
            case .invalid(let why): return why
            case .unsupportedFormat(let v): return "format \(v) is newer than this walvault understands; upgrade walvault"
            }
        }
    }

    public init(decoding bytes: [UInt8]) throws(DecodeProblem) {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .notText }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch { throw .invalid("invalid TOML") }
        guard let format = table["format"]?.int else { throw .invalid("no format") }
        guard format == Self.formatVersion else { throw .unsupportedFormat(format) }
        guard let sysidText = table["system_identifier"]?.string, let sysid = UInt64(sysidText),
            let segmentSize = table["wal_segment_size"]?.int, segmentSize > 0,
            let version = table["postgres_version"]?.int
        else { throw .invalid("missing or malformed fields") }
        identity = ClusterIdentity(systemIdentifier: sysid, walSegmentSize: segmentSize, postgresVersion: version)
    }
}
