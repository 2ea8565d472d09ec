import WalvaultCatalog
import WalvaultStores
import WalvaultSystem

/// One schema dump or log export as the stores hold it: the same object (same name) in each
/// store that has it.
public struct StoredExport: Sendable {
    /// The schema of a dump, the table of a log export.
    public let subject: String
    public let name: ExportObjectName
    public internal(set) var copies: [(store: String, object: StoreObject)]

    /// What a person passes to `dump restore --id`: `<schema>/<time>`.
    public var id: String { "\(subject)/\(name.stamp)" }
}

/// Lists exports from every store's listing (a Telegram store answers from its catalog), merged
/// by name. Objects that do not parse as an export are left out; verify reports them.
public enum ExportListing {
    public enum Kind: Sendable { case dumps, logs }

    public static func list(_ kind: Kind, stores: [Store], layout: ArchiveLayout, subject: String? = nil) throws -> [StoredExport] {
        var byKey: [String: StoredExport] = [:]
        let root = kind == .dumps ? layout.dumpRoot : layout.logsRoot
        for store in stores {
            let subjects = try subject.map { [$0] } ?? store.listSubdirectories(directory: root)
            for name in subjects where SQLIdentifier.isValid(name) {
                for object in try store.list(directory: root + "/" + name, namePrefix: "") {
                    guard let parsed = ExportObjectName(object.name), parsed.format.isDump == (kind == .dumps) else { continue }
                    byKey[object.key, default: StoredExport(subject: name, name: parsed, copies: [])].copies.append((store.name, object))
                }
            }
        }
        return byKey.values.sorted { ($0.subject, $0.name.time, $0.name.sha256) < ($1.subject, $1.name.time, $1.name.sha256) }
    }

    /// Dumps and log exports together, newest first: what the dashboard lists and downloads from.
    public static func all(stores: [Store], layout: ArchiveLayout) throws -> [(export: StoredExport, kind: Kind)] {
        let dumps = try list(.dumps, stores: stores, layout: layout).map { ($0, Kind.dumps) }
        let logs = try list(.logs, stores: stores, layout: layout).map { ($0, Kind.logs) }
        return (dumps + logs).sorted { $0.0.name.time > $1.0.name.time }
    }

    /// The export `id` names (`<schema>/<time>`), or a refusal that says what exists.
    public static func find(id: String, in exports: [StoredExport]) throws -> StoredExport {
        let matches = exports.filter { $0.id == id }
        guard let found = matches.first else {
            let near = exports.suffix(3).map(\.id).joined(separator: ", ")
            throw RepositoryError(
                problem: "no dump \(id) in the stores",
                fix: near.isEmpty ? "run walvault dump list: there are none" : "see walvault dump list (the newest: \(near))")
        }
        guard matches.count == 1 else {
            throw RepositoryError(
                problem: "dump \(id) exists with \(matches.count) different contents", fix: "run walvault verify; remove the copy that is wrong")
        }
        return found
    }
}
