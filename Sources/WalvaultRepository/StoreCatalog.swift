#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import WalvaultStores
import WalvaultSystem

/// walvault's own record of what a store holds, for stores that cannot list (Telegram): the
/// answer a listing would give, kept in the store itself, so a new machine with nothing but the
/// store's credentials finds every object again.
///
/// Format: a sequence of immutable generation objects, `catalog/<generation, 16 digits>`, each
/// JSON lines: a header `{"walvault_catalog":1,"generation":N,"snapshot":bool}`, then one line per
/// change, `{"put":{"key":…,"size":…,"modified_at":…}}` or `{"delete":"key"}`. Every 64th
/// generation is a snapshot holding the whole state, so a reader reads at most 64 objects: the
/// newest generation (found with `head`, which every store answers, by doubling then bisecting)
/// back to the last snapshot. A writer creates generation N+1 with create-unless-exists; losing
/// that race means another writer took N+1, and it tries N+2 with what it learned.
public struct StoreCatalog: Sendable {
    public static let directory = "catalog"
    public static let snapshotEvery: UInt64 = 64

    struct Header: Codable {
        var walvault_catalog: Int
        var generation: UInt64
        var snapshot: Bool
    }

    struct Put: Codable, Equatable {
        var key: String
        var size: Int
        var modified_at: Int64?
    }

    struct Change: Codable {
        var put: Put?
        var delete: String?
    }

    let store: Store

    public init(store: Store) { self.store = store }

    public static func key(_ generation: UInt64) -> String {
        let digits = String(generation)
        return directory + "/" + String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }

    /// The newest generation there is (0 when none): head-only, so it works without listing.
    public func newestGeneration(from hint: UInt64 = 0) throws -> UInt64 {
        var low = hint
        if low > 0, try store.head(key: Self.key(low)) == nil { low = 0 }
        var high = max(1, low * 2)
        while try store.head(key: Self.key(high)) != nil {
            low = high
            high *= 2
        }
        // Generations are created in order, so "exists" is true up to the newest and false after.
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if try store.head(key: Self.key(middle)) != nil { low = middle } else { high = middle }
        }
        return low
    }

    /// Every object the catalog records, as a listing would give it.
    public func objects() throws -> [String: StoreObject] {
        try state(at: try newestGeneration())
    }

    func state(at newest: UInt64) throws -> [String: StoreObject] {
        guard newest > 0 else { return [:] }
        let snapshot = newest - newest % Self.snapshotEvery
        var state: [String: StoreObject] = [:]
        for generation in max(snapshot, 1)...newest {
            guard let bytes = try store.readSmall(key: Self.key(generation)) else {
                throw StoreError(store: store.name, kind: .permanent, problem: "catalog generation \(Self.key(generation)) is missing",
                                 fix: "the catalog is damaged: restore its objects from another copy of the store")
            }
            try apply(bytes, generation: generation, to: &state)
        }
        return state
    }

    func apply(_ bytes: [UInt8], generation: UInt64, to state: inout [String: StoreObject]) throws {
        let decoder = JSONDecoder()
        let lines = bytes.split(separator: 10)
        guard let first = lines.first, let header = try? decoder.decode(Header.self, from: Data(first)),
              header.walvault_catalog == 1, header.generation == generation else {
            throw StoreError(store: store.name, kind: .permanent, problem: "catalog generation \(Self.key(generation)) is not a walvault catalog",
                             fix: "the catalog is damaged: restore its objects from another copy of the store")
        }
        if header.snapshot { state = [:] }
        for line in lines.dropFirst() {
            guard let change = try? decoder.decode(Change.self, from: Data(line)) else {
                throw StoreError(store: store.name, kind: .permanent, problem: "catalog generation \(Self.key(generation)) has an unreadable line",
                                 fix: "the catalog is damaged: restore its objects from another copy of the store")
            }
            if let put = change.put { state[put.key] = StoreObject(key: put.key, size: put.size, modifiedAt: put.modified_at) }
            if let key = change.delete { state.removeValue(forKey: key) }
        }
    }

    /// Records changes in a new generation (a snapshot on every 64th). Returns the generation
    /// written, a hint for the next call.
    @discardableResult
    public func record(put: [StoreObject] = [], delete: [String] = [], hint: UInt64 = 0) throws -> UInt64 {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var newest = try newestGeneration(from: hint)
        for _ in 0..<100 {
            let generation = newest + 1
            let snapshot = generation % Self.snapshotEvery == 0
            var changes: [Change]
            if snapshot {
                var state = try state(at: newest)
                for object in put { state[object.key] = object }
                for key in delete { state.removeValue(forKey: key) }
                changes = state.values.sorted { $0.key < $1.key }.map { Change(put: Put(key: $0.key, size: $0.size, modified_at: $0.modifiedAt)) }
            } else {
                changes = put.map { Change(put: Put(key: $0.key, size: $0.size, modified_at: $0.modifiedAt)) } + delete.map { Change(delete: $0) }
            }
            var bytes = Array(try encoder.encode(Header(walvault_catalog: 1, generation: generation, snapshot: snapshot))) + [10]
            for change in changes { bytes += Array(try encoder.encode(change)) + [10] }
            if try store.createSmall(key: Self.key(generation), contents: bytes) { return generation }
            newest = try newestGeneration(from: generation)
        }
        throw StoreError(store: store.name, kind: .transient, problem: "the catalog kept changing under this writer", fix: "retry")
    }
}
