import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// The `[[storage]]` part of `walvault verify` in one store: every snapshot read back, and every
/// chunk a snapshot uses present, decoded and matching its name. A pack that is missing or
/// damaged is one problem naming every snapshot it breaks.
public struct FilesVerify {
    public let context: WalvaultContext

    public init(context: WalvaultContext) { self.context = context }

    public struct Outcome: Sendable {
        /// (object, problem), one per snapshot or pack.
        public var problems: [(object: String, problem: String)] = []
        public var snapshots = 0
        public var packs = 0
        public var chunks = 0
        public var storedBytes = 0
        public var originalBytes = 0
    }

    public func verify(_ store: Store, cancellation: Cancellation) throws -> Outcome {
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        let catalog = FilesCatalog(layout: layout)
        let keys = try context.keyRing.map { try ChunkKeys.derive(keyRing: $0, repository: context.config.cluster.name) } ?? .unkeyed
        var outcome = Outcome()
        var needed = ChunkTable()
        var users: [String: Set<String>] = [:]
        for tree in try catalog.trees(in: store) {
            for snapshot in try catalog.snapshots(of: tree, in: store) {
                try cancellation.check("verify")
                outcome.snapshots += 1
                outcome.storedBytes += snapshot.object.size
                let name = "\(tree)/\(snapshot.id)"
                do {
                    let opened = try catalog.open(snapshot)
                    guard opened.header.chunkNames == keys.scheme else {
                        outcome.problems.append(
                            (
                                snapshot.object.key,
                                "its chunks are named by \(opened.header.chunkNames), and this config's by \(keys.scheme)"
                            ))
                        continue
                    }
                    while try opened.next() != nil {}
                    for chunk in 0..<opened.table.count {
                        needed.add(chunk, of: opened.table)
                        users[opened.table.packs[opened.table.locations[chunk].pack], default: []].insert(name)
                    }
                } catch  where !OperationCancelled.isCause(of: error) {
                    outcome.problems.append((snapshot.object.key, (error as? CommandError)?.problem ?? "cannot be read: \(error)"))
                }
            }
        }
        var byPack: [Int: [Int]] = [:]
        for chunk in 0..<needed.count { byPack[needed.locations[chunk].pack, default: []].append(chunk) }
        let present = Dictionary(
            try store.list(directory: layout.packDirectory, namePrefix: "").map { ($0.name, $0.size) }, uniquingKeysWith: { a, _ in a })
        let reader = try PackReader(keys: keys)
        for pack in byPack.keys.sorted(by: { needed.packs[$0] < needed.packs[$1] }) {
            try cancellation.check("verify")
            let name = needed.packs[pack]
            let broken = (users[name] ?? []).sorted().joined(separator: ", ")
            guard let size = present[name] else {
                outcome.problems.append((layout.packKey(name), "is missing; snapshots \(broken) cannot be restored from this store"))
                continue
            }
            outcome.packs += 1
            outcome.storedBytes += size
            do {
                try reader.read(pack: name, chunks: byPack[pack]!, of: needed, from: store, layout: layout, placedAt: { _ in 0 }) { _, bytes in
                    outcome.chunks += 1
                    outcome.originalBytes += bytes.count
                }
            } catch  where !OperationCancelled.isCause(of: error) {
                let problem = (error as? CommandError)?.problem ?? "cannot be read: \(error)"
                outcome.problems.append((layout.packKey(name), "\(problem); snapshots \(broken) cannot be restored from this store"))
            }
        }
        return outcome
    }
}
