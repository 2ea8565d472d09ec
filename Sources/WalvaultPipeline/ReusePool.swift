import Synchronization

/// Keeps a few released resources for the next object instead of freeing them: a zstd decoder's
/// window (megabytes for a 16 MiB WAL segment's frame) and the 1 MiB read buffer are above
/// malloc's mmap threshold, so each object otherwise gets fresh pages, faulted in and zeroed by
/// the kernel, and unmapped after. Verify and restore read thousands of objects: those faults
/// and unmaps measured 8 % of verify's CPU. At most `limit` are kept, so memory stays bounded
/// by the number of readers at once. Resources that are raw handles travel in an
/// `@unchecked Sendable` wrapper: whoever took one is its only user until it gives it back.
package final class ReusePool<Resource: Sendable>: Sendable {
    private let kept = Mutex<[Resource]>([])
    private let limit: Int
    private let discard: @Sendable (Resource) -> Void

    package init(limit: Int, discard: @escaping @Sendable (Resource) -> Void) {
        self.limit = limit
        self.discard = discard
    }

    /// A kept resource, or nil when there is none to reuse (the caller makes a new one).
    package func take() -> Resource? {
        kept.withLock { $0.popLast() }
    }

    /// Keeps `resource` for the next taker, or discards it when `limit` are kept already.
    package func give(_ resource: Resource) {
        let keeps = kept.withLock { kept -> Bool in
            guard kept.count < limit else { return false }
            kept.append(resource)
            return true
        }
        if !keeps { discard(resource) }
    }
}
