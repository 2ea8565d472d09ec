import Dispatch
import Synchronization
import WalvaultSystem

/// Numbered jobs run on a few threads, taken in order; the first failure stops the others (at
/// their next job, or sooner where they look at `isStopped`) and is what `run` throws. A
/// cancellation stops them the same way, between jobs, and `run` throws `OperationCancelled`.
/// Restore's parts, backup's files, verify's objects and ship's objects go through it.
package final class ParallelJobs: Sendable {
    private let stopped = Atomic<Bool>(false)
    /// The first failure; the jobs it stops fail after it and are not reported.
    private let failure = Mutex<(any Error)?>(nil)
    package let cancellation: Cancellation
    /// What the jobs are, for the cancellation's message ("copying files").
    package let doing: String

    package init(cancellation: Cancellation = .never, doing: String = "working") {
        self.cancellation = cancellation
        self.doing = doing
    }

    /// Another job failed, or the operation was cancelled: a job still running may stop early.
    package var isStopped: Bool { stopped.load(ordering: .relaxed) || cancellation.isCancelled }

    /// Jobs that are not known in advance: each worker asks `next` for one (nil: none left) as soon
    /// as it is done with the last, so the work moves on as it comes (prefetch's window).
    package func run<Job>(workers: Int, next: @Sendable () -> Job?, _ job: @Sendable (Job) throws -> Void) throws {
        DispatchQueue.concurrentPerform(iterations: max(1, workers)) { _ in
            while !isStopped, let item = next() {
                do { try job(item) } catch { failed(error) }
            }
        }
        try outcome()
    }

    /// Stops the others at their next job without a failure (ship, when its store went down).
    package func stop() { stopped.store(true, ordering: .relaxed) }

    /// - Parameter job: called with the worker's number (0..<workers, one thread each) and the job's.
    package func run(count: Int, workers: Int, _ job: @Sendable (_ worker: Int, _ index: Int) throws -> Void) throws {
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, count))) { worker in
            while !isStopped {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < count else { return }
                do { try job(worker, index) } catch { failed(error) }
            }
        }
        try outcome()
    }

    /// Stops the others; the first failure is kept, unless the cancellation came first: a job
    /// that fails after it fails because of it (a worker stopped mid-write).
    private func failed(_ error: Error) {
        if !stopped.exchange(true, ordering: .relaxed) && !cancellation.isCancelled { failure.withLock { $0 = error } }
    }

    /// What `run` throws once every worker is done: the first failure, else the cancellation.
    private func outcome() throws {
        if let first = failure.withLock({ $0 }) { throw first }
        try cancellation.check(doing)
    }
}

/// Results of parallel work, one slot per item: each written once by the thread that did it, read
/// only after `concurrentPerform` returned (which orders the writes before the read).
package final class Slots<T>: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<T?>

    package init(count: Int) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: nil)
    }

    deinit {
        storage.deinitialize()
        storage.deallocate()
    }

    package func set(_ index: Int, _ value: T) { storage[index] = value }

    package var values: [T?] { Array(storage) }
}
