import Dispatch
import Synchronization

/// Produces items ahead of the one being consumed, `depth` at a time on other threads, and hands
/// them over in order. Verify decompresses a backup's next parts while its own thread hashes the
/// files of the current one, which must see their bytes in order. Memory is `depth` items.
final class OrderedPrefetch<Value: Sendable>: @unchecked Sendable {
    private let produce: @Sendable (Int) -> Value
    private let count: Int
    private let slots = Mutex<[Int: Value]>([:])
    private let ready: [DispatchSemaphore]
    /// Touched only by the consuming thread.
    private var scheduled = 0

    init(count: Int, depth: Int, produce: @escaping @Sendable (Int) -> Value) {
        self.produce = produce
        self.count = count
        ready = (0..<count).map { _ in DispatchSemaphore(value: 0) }
        while scheduled < min(max(1, depth), count) { schedule() }
    }

    private func schedule() {
        let index = scheduled
        scheduled += 1
        DispatchQueue.global().async { [self] in
            let value = produce(index)
            slots.withLock { $0[index] = value }
            ready[index].signal()
        }
    }

    /// Item `index`, waiting for it; take them in order, 0 first, each once.
    func take(_ index: Int) -> Value {
        ready[index].wait()
        let value = slots.withLock { $0.removeValue(forKey: index)! }
        if scheduled < count { schedule() }
        return value
    }
}
