/// `[check]`: the thresholds `walvault check` holds the installation to (for monitoring and cron).
public struct CheckSettings: Sendable, Equatable {
    /// The newest complete backup may be at most this old.
    public var backupMaxAgeHours: Int
    /// The oldest object waiting for an async store may be at most this old.
    public var shippingLagMinutes: Int
    /// Every volume walvault writes to (pg_wal, local stores, the spool) keeps at least this much free.
    public var minFreePercent: Int
    /// How long the round trip (a WAL switch, then that segment in every sync store) may take.
    public var roundTripSeconds: Int

    public init(backupMaxAgeHours: Int = 28, shippingLagMinutes: Int = 60, minFreePercent: Int = 15, roundTripSeconds: Int = 60) {
        self.backupMaxAgeHours = backupMaxAgeHours
        self.shippingLagMinutes = shippingLagMinutes
        self.minFreePercent = minFreePercent
        self.roundTripSeconds = roundTripSeconds
    }
}
