#if canImport(Glibc)
    import Glibc
#endif

/// A thread of its own for work that blocks (disk reads, queues between stages). Dispatch's
/// global queues on Linux run on a pool about as large as the machine has cores, and a task
/// blocked there holds its slot: on two cores, two such tasks leave a third waiting for the
/// pool to notice, up to a second later.
public final class JoinableThread: @unchecked Sendable {
    private var thread = pthread_t()
    private var joined = false

    /// Starts `body` at once on a new thread.
    public init(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        let created = pthread_create(
            &thread, nil,
            { argument in
                let body = Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue()
                body.run()
                return nil
            }, box)
        // Out of threads (EAGAIN) is out of memory in practice: nothing sensible to go on with.
        precondition(created == 0, "pthread_create failed: \(created)")
    }

    /// Waits for `body` to return. Call it once, from one thread.
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(thread, nil)
    }

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
}
