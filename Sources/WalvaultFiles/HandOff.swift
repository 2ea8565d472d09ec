import Dispatch
import Synchronization

/// A bounded queue between two threads of one files backup: the reader puts chunks, the
/// compressor takes them, then the compressor puts packs and the committer takes those. Each
/// item weighs some units (a chunk: its MiB), and `put` waits while the queue holds `capacity`
/// units, so memory stays bounded whatever the tree; a stage that fails closes both ways
/// (`abandon`), and neither side waits for ever. One putter and one taker.
final class HandOff<Item: Sendable>: Sendable {
    private let free: DispatchSemaphore
    private let filled = DispatchSemaphore(value: 0)
    private let state = Mutex<(items: [(Item, Int)], closed: Bool, abandoned: Bool)>(([], false, false))
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        free = DispatchSemaphore(value: capacity)
    }

    /// - Parameter weight: 1...capacity.
    /// - Returns: false when the taker gave up: the item was not queued.
    func put(_ item: Item, weight: Int) -> Bool {
        precondition(weight >= 1 && weight <= capacity)
        for _ in 0..<weight { free.wait() }
        let queued = state.withLock { state -> Bool in
            guard !state.abandoned else { return false }
            state.items.append((item, weight))
            return true
        }
        if queued {
            filled.signal()
        } else {
            for _ in 0..<weight { free.signal() }
        }
        return queued
    }

    /// The next item, or nil once the queue is closed and empty, or abandoned.
    func take() -> Item? {
        filled.wait()
        let taken = state.withLock { state -> (Item, Int)? in
            guard !state.abandoned, !state.items.isEmpty else { return nil }
            return state.items.removeFirst()
        }
        guard let (item, weight) = taken else {
            filled.signal()  // the end: every later take sees it too
            return nil
        }
        for _ in 0..<weight { free.signal() }
        return item
    }

    /// No more items: the taker ends once it has the ones queued.
    func close() {
        state.withLock { $0.closed = true }
        filled.signal()
    }

    /// Stops both sides: queued items are dropped, a waiting `put` returns false, `take` nil.
    func abandon() {
        state.withLock {
            $0.abandoned = true
            $0.items.removeAll()
        }
        filled.signal()
        for _ in 0..<capacity { free.signal() }
    }
}
