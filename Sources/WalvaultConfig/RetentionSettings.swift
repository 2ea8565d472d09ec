/// `[retention]`: how far back any moment must stay restorable. One number for every store unless a
/// store sets its own `retention_days` (a fast local tier keeping less than the cloud).
public struct RetentionSettings: Sendable, Equatable {
    public var days: Int

    public init(days: Int) { self.days = days }
}
