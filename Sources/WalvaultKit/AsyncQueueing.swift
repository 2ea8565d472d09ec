import WalvaultPolicy
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

/// The one way archive-push, backup, dump and export-logs queue what they stored for the async
/// stores. A queue takes the objects while its backlog and they stay within `[shipping]
/// max_queue_mb` (`ShipPlan.fits`); a full one takes none of them, gets its overflow marker (so
/// the next `walvault ship` finds what is missing by listing), and the operation is told in one
/// sentence, at most once a minute per store so a stream of segments does not flood the log. The
/// objects are safe in the sync stores either way: a full queue never fails an operation.
package struct AsyncQueueing {
    package struct Refusal: Equatable {
        package let store: String
        package let message: String
        /// False when the same store was said to be full less than a minute ago.
        package let sayNow: Bool
    }

    package struct Outcome {
        package var queuedFor: [String] = []
        package var refused: [Refusal] = []
    }

    package let context: WalvaultContext

    package init(context: WalvaultContext) { self.context = context }

    /// - Parameter what: the objects in words, for the sentence ("backup 20261204T030000Z").
    package func enqueue(_ objects: [(key: String, size: Int)], what: String) throws -> Outcome {
        var outcome = Outcome()
        guard !context.asyncIndexes.isEmpty, !objects.isEmpty, let spool = try context.trustedSpool else { return outcome }
        let limit = context.config.shipping.maxQueueBytes
        let adding = objects.reduce(0) { $0 + $1.size }
        for index in context.asyncIndexes {
            let store = context.stores[index]
            let queue = try ShippingQueue.open(spool: spool, store: store.name)
            let backlog = try queue.entries().reduce(0) { $0 + $1.size }
            guard ShipPlan.fits(backlog: backlog, adding: adding, limit: limit) else {
                let marker = queue.overflowMarker
                let last = (try? FileSystem.status(marker))??.modifiedAt
                let now = WallClock.nowMicros()
                let sayNow = last.map { now - $0 >= 60_000_000 } ?? true
                if sayNow { try? FileSystem.writeAtomically(marker, contents: Array("\(now)\n".utf8), mode: 0o600) }
                outcome.refused.append(
                    Refusal(
                        store: store.name,
                        message:
                            "the shipping queue for store \"\(store.name)\" is full (\(backlog >> 20) MiB, [shipping] max_queue_mb = \(limit >> 20)): \(what) is safe in the sync stores but not queued; walvault ship will find what is missing by listing once the store is reachable",
                        sayNow: sayNow))
                continue
            }
            for object in objects { try queue.enqueue(key: object.key, size: object.size) }
            outcome.queuedFor.append(store.name)
        }
        return outcome
    }
}
