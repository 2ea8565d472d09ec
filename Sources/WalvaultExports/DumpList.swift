import WalvaultCatalog
import WalvaultKit
import WalvaultRepository
import WalvaultSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `walvault dump list`: the dumps every store holds, from their listings alone (no history
/// table needed: a machine rebuilt after a disaster sees them too).
public struct DumpList {
    public struct Item: Codable, Equatable, Sendable {
        public let id: String
        public let schema: String
        /// When pg_dump started, UTC.
        public let time: String
        public let format: String
        public let compression: String
        public let sha256: String
        /// Per store holding it, the object's size there.
        public let stores: [String: Int]
    }

    public let context: WalvaultContext

    public init(context: WalvaultContext) { self.context = context }

    public func run(schema: String?) throws -> [Item] {
        if let schema { _ = try SQLIdentifier.check(schema, what: "schema", option: "--schema") }
        return try ExportListing.list(.dumps, stores: context.stores, layout: ArchiveLayout(cluster: context.config.cluster.name), subject: schema)
            .map {
                Item(
                    id: $0.id, schema: $0.subject, time: RecoveryTarget.formatUTC($0.name.time), format: $0.name.format.rawValue,
                    compression: $0.name.compression.rawValue, sha256: $0.name.sha256,
                    stores: Dictionary($0.copies.map { ($0.store, $0.object.size) }, uniquingKeysWith: { a, _ in a }))
            }
    }

    public static func lines(_ items: [Item]) -> [String] {
        guard !items.isEmpty else { return ["no dumps stored"] }
        return items.map { item in
            "\(item.id)  \(item.time)  \(item.format)\(item.compression == "none" ? "" : "+" + item.compression)  "
                + item.stores.keys.sorted().map { "\($0): \(item.stores[$0]!) bytes" }.joined(separator: ", ")
        }
    }
}
