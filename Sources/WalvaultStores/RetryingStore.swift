import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The one retry policy every driver gets: an operation that fails with a `.transient` error is
/// tried again after an exponential back-off with full jitter, a bounded number of times; any
/// other kind is passed on at once. Only operations that can be repeated safely are retried
/// (reads, listings, `head`, `delete`, small creates); a writer's stream cannot be replayed, so a
/// failed commit goes to the caller, who holds the source and may start again.
public final class RetryingStore: StoreWrapper {
    public struct Policy: Sendable {
        public var attempts: Int
        public var baseDelayMicros: Int
        public var maxDelayMicros: Int

        public init(attempts: Int = 4, baseDelayMicros: Int = 200_000, maxDelayMicros: Int = 5_000_000) {
            self.attempts = attempts
            self.baseDelayMicros = baseDelayMicros
            self.maxDelayMicros = maxDelayMicros
        }

        /// `body`, again after each `.transient` StoreError until the attempts are spent; any other
        /// failure at once. Drivers use it for steps whose bytes they hold (an S3 part).
        public func run<T>(sleep: (Int) -> Void = { usleep(useconds_t($0)) }, _ body: () throws -> T) throws -> T {
            var attempt = 1
            while true {
                do {
                    return try body()
                } catch let error as StoreError where error.kind == .transient && attempt < attempts {
                    sleep(delay(beforeRetry: attempt) { Int.random(in: 0..<max(1, $0)) })
                    attempt += 1
                }
            }
        }

        /// The wait before retry `n` (1-based): uniform in [0, min(max, base × 2^(n-1))].
        public func delay(beforeRetry n: Int, random: (Int) -> Int) -> Int {
            let ceiling = min(maxDelayMicros, baseDelayMicros << min(n - 1, 20))
            return random(ceiling + 1)
        }
    }

    public let base: Store
    public let policy: Policy
    private let sleep: @Sendable (Int) -> Void

    public init(base: Store, policy: Policy = Policy(), sleep: @escaping @Sendable (Int) -> Void = { usleep(useconds_t($0)) }) {
        self.base = base
        self.policy = policy
        self.sleep = sleep
    }

    func retrying<T>(_ body: () throws -> T) throws -> T {
        try policy.run(sleep: sleep, body)
    }

    public func list(directory: String, namePrefix: String) throws -> [StoreObject] {
        try retrying { try base.list(directory: directory, namePrefix: namePrefix) }
    }

    public func listSubdirectories(directory: String) throws -> [String] {
        try retrying { try base.listSubdirectories(directory: directory) }
    }

    public func head(key: String) throws -> StoreObject? {
        try retrying { try base.head(key: key) }
    }

    public func delete(key: String) throws {
        try retrying { try base.delete(key: key) }
    }

    public func openReader(key: String) throws -> ObjectReader {
        try retrying { try base.openReader(key: key) }
    }

    public func makeWriter(directory: String) throws -> ObjectWriter {
        try retrying { try base.makeWriter(directory: directory) }
    }

    public func makeWriter(directory: String, group: ObjectGroup?) throws -> ObjectWriter {
        try retrying { try base.makeWriter(directory: directory, group: group) }
    }

    public func readSmall(key: String) throws -> [UInt8]? {
        try retrying { try base.readSmall(key: key) }
    }

    /// Safe to repeat: the contents are in memory, and "already exists" after a lost reply is
    /// answered by comparing them, not by failing.
    public func createSmall(key: String, contents: [UInt8]) throws -> Bool {
        try retrying { try base.createSmall(key: key, contents: contents) }
    }

    public func createSmall(key: String, contents: [UInt8], group: ObjectGroup?) throws -> Bool {
        try retrying { try base.createSmall(key: key, contents: contents, group: group) }
    }
}
