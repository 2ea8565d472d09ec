/// What a store costs a month at its `price_per_gb_month`, the way B2, S3 and GCS bill: decimal
/// gigabytes (10^9 bytes) held over the month. Seed 003 compares the three on exactly this figure.
public enum StorageCost {
    public static let bytesPerGB = 1_000_000_000.0

    /// nil without a price: a store whose price is not set shows no cost rather than a free one.
    public static func monthly(bytes: Int, pricePerGBMonth: Double?) -> Double? {
        guard let price = pricePerGBMonth else { return nil }
        return Double(max(0, bytes)) / bytesPerGB * price
    }

    /// The cost in the price's currency with cents, rounded half up: "0.42", "1234.50".
    public static func text(_ cost: Double) -> String {
        let cents = Int((cost * 100).rounded(.toNearestOrAwayFromZero))
        let units = cents / 100
        let rest = cents % 100
        return "\(units).\(rest < 10 ? "0" : "")\(rest)"
    }
}
