import WalvaultStores
import WalvaultSystem

/// Init's proof that a store works before the config names it: an object written, read back
/// byte for byte and deleted, through the same layers archive-push uses (encryption included).
/// A store that commits later (Telegram) is flushed after the write and after the delete, so the
/// probe really goes to the chat and leaves nothing behind in its catalog.
public enum StoreProbe {
    public static func roundTrip(_ store: Store, cluster: String) throws {
        let key = "\(cluster)/.walvault-init-\(UInt64.random(in: 0...UInt64.max))"
        let contents = Array("walvault init probe \(key)\n".utf8)
        guard try store.createSmall(key: key, contents: contents) else {
            throw StoreError(store: store.name, kind: .conflict, problem: "a probe object already existed at \(key)", fix: "run init again")
        }
        let deferred = store.capabilities.contains(.deferredCommit)
        if deferred { _ = try store.flush() }
        let back = try store.readSmall(key: key)
        guard back == contents else {
            try? store.delete(key: key)
            throw StoreError(
                store: store.name,
                problem: back == nil
                    ? "probe object \(key) was not there to read back" : "probe object \(key) read back differs from what was written",
                fix: "check that nothing else rewrites this store's objects (a proxy, a lifecycle rule)")
        }
        if store.capabilities.contains(.deletion) {
            try store.delete(key: key)
            if deferred { _ = try store.flush() }
        }
    }
}
