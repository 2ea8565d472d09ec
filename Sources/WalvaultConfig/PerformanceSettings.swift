/// `[performance]`: how far walvault works ahead of PostgreSQL.
public struct PerformanceSettings: Sendable, Equatable {
    /// archive-get: segments of the same timeline fetched, verified and decompressed ahead into the
    /// spool while PostgreSQL replays, so its later calls only hand over a checked file. 0: off.
    public var prefetch: Int

    public init(prefetch: Int = 8) {
        self.prefetch = prefetch
    }
}
