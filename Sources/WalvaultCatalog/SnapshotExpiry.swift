/// What `walvault expire` does with the snapshots of `[[storage]]` trees in one store, and with
/// the packs and chunk indexes under them. Pure; unit-tested case by case.
///
/// A snapshot is kept when it is inside the window, or when it is the newest taken at or before
/// the window's start (the tree as it was at that moment: without it, the first days of the window
/// could not be restored), or the newest of its tree at all. A pack is deleted only when no kept
/// snapshot uses it. Chunk indexes tell the next backup what it need not store again, so they are
/// replaced by one that lists only the packs that stay, written before any old index or pack is
/// deleted: a run killed at any point leaves indexes that name only packs that exist, and packs
/// that a later run deletes.
public enum SnapshotExpiry {
    public struct Snapshot: Equatable, Hashable, Sendable {
        public let tree: String
        public let id: String
        /// µs since the epoch, when the walk began.
        public let time: Int64

        public init(tree: String, id: String, time: Int64) {
            self.tree = tree
            self.id = id
            self.time = time
        }

        /// `<tree>/<id>`, as `files list` and the history name it.
        public var name: String { "\(tree)/\(id)" }
    }

    public struct Decision: Equatable, Sendable {
        public let snapshot: Snapshot
        public let keep: Bool
        public let reason: String
    }

    public static func plan(_ snapshots: [Snapshot], days: Int, now: Int64) -> [Decision] {
        let windowStart = now - Int64(days) * 86_400_000_000
        var anchors: Set<Snapshot> = []
        for (_, ofTree) in Dictionary(grouping: snapshots, by: \.tree) {
            let ordered = ofTree.sorted { ($0.time, $0.id) < ($1.time, $1.id) }
            if let newest = ordered.last { anchors.insert(newest) }
            if let atStart = ordered.last(where: { $0.time <= windowStart }) { anchors.insert(atStart) }
        }
        return snapshots.sorted { ($0.tree, $0.time, $0.id) < ($1.tree, $1.time, $1.id) }.map { snapshot in
            if snapshot.time > windowStart {
                return Decision(snapshot: snapshot, keep: true, reason: "inside the \(days)-day window")
            }
            if anchors.contains(snapshot) {
                let newest = !snapshots.contains { $0.tree == snapshot.tree && ($0.time, $0.id) > (snapshot.time, snapshot.id) }
                return Decision(
                    snapshot: snapshot, keep: true,
                    reason: newest
                        ? "the newest snapshot of \(snapshot.tree), kept whatever its age"
                        : "the tree as it was when the \(days)-day window begins")
            }
            return Decision(snapshot: snapshot, keep: false, reason: "older than \(days) days, and a later snapshot covers the window's start")
        }
    }

    /// When each kept snapshot goes under the same rule, if no newer one were taken before then:
    /// the time the next snapshot of its tree was taken plus the window (nil while it is the newest).
    public static func due(_ snapshots: [Snapshot], days: Int) -> [String: Int64] {
        var due: [String: Int64] = [:]
        for (_, ofTree) in Dictionary(grouping: snapshots, by: \.tree) {
            let ordered = ofTree.sorted { ($0.time, $0.id) < ($1.time, $1.id) }
            for (older, newer) in zip(ordered, ordered.dropFirst()) { due[older.name] = newer.time + Int64(days) * 86_400_000_000 }
        }
        return due
    }

    /// The packs and chunk indexes one expire deletes, once the snapshots it deletes are gone.
    public struct Sweep: Equatable, Sendable {
        /// Packs no kept snapshot uses.
        public let packs: [String]
        /// Every index object there was: replaced by one listing only the packs that stay.
        public let indexes: [String]
        /// Whether a new index is written first (something is deleted, and some pack stays).
        public let writesIndex: Bool

        public init(packs: [String], indexes: [String], writesIndex: Bool) {
            self.packs = packs
            self.indexes = indexes
            self.writesIndex = writesIndex
        }
    }

    /// - Parameters:
    ///   - packs: the packs the store holds.
    ///   - used: the packs the kept snapshots use.
    ///   - indexes: the index objects the store holds.
    public static func sweep(packs: Set<String>, used: Set<String>, indexes: Set<String>) -> Sweep {
        let unused = packs.subtracting(used).sorted()
        let deletes = !unused.isEmpty
        return Sweep(
            packs: unused, indexes: deletes || indexes.count > 1 ? indexes.sorted() : [], writesIndex: (deletes || indexes.count > 1) && !used.isEmpty
        )
    }
}
