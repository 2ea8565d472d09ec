/// `[shipping]`: how `walvault ship` sends queued objects to async stores.
public struct ShippingSettings: Sendable, Equatable {
    /// Objects shipped at once.
    public var parallel: Int
    /// Past this many bytes queued for one store, archive-push stops queueing for it (the sync
    /// stores still get everything) and `ship` catches up later by comparing listings.
    public var maxQueueBytes: Int

    public static let defaultParallel = 4
    public static let defaultMaxQueueMB = 4096

    public init(parallel: Int = ShippingSettings.defaultParallel, maxQueueBytes: Int = ShippingSettings.defaultMaxQueueMB << 20) {
        self.parallel = parallel
        self.maxQueueBytes = maxQueueBytes
    }
}
