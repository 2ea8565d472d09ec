/// How fast the database grows and when its disk fills, from the sizes sampled into
/// `control_plane.database_sizes` (every `[dashboard] sample_minutes`, and at each `walvault
/// check`). Pure: samples in, figures out.
public enum Growth {
    public struct Sample: Equatable, Sendable {
        /// µs since the epoch.
        public let at: Int64
        public let bytes: Int64

        public init(at: Int64, bytes: Int64) {
            self.at = at
            self.bytes = bytes
        }
    }

    public struct Summary: Equatable, Sendable {
        /// Bytes gained (or lost) over the last day, week and 30 days, newest sample against the
        /// newest one at least that old; nil until a sample is that old.
        public var daily: Int64?
        public var weekly: Int64?
        public var monthly: Int64?
        /// The trend of the last 30 days (least squares), in bytes a day; nil with fewer than two
        /// samples an hour apart.
        public var bytesPerDay: Double?

        public init(daily: Int64? = nil, weekly: Int64? = nil, monthly: Int64? = nil, bytesPerDay: Double? = nil) {
            self.daily = daily
            self.weekly = weekly
            self.monthly = monthly
            self.bytesPerDay = bytesPerDay
        }
    }

    static let day: Int64 = 86_400_000_000

    public static func summary(_ samples: [Sample]) -> Summary {
        let sorted = samples.sorted { $0.at < $1.at }
        guard let newest = sorted.last else { return Summary() }
        func change(over days: Int64) -> Int64? {
            sorted.last { $0.at <= newest.at - days * day }.map { newest.bytes - $0.bytes }
        }
        let recent = sorted.filter { $0.at >= newest.at - 30 * day }
        var trend: Double?
        if let first = recent.first, newest.at - first.at >= 3_600_000_000 {
            let xs = recent.map { Double($0.at - first.at) / Double(day) }
            let ys = recent.map { Double($0.bytes) }
            let n = Double(recent.count)
            let meanX = xs.reduce(0, +) / n
            let meanY = ys.reduce(0, +) / n
            var covariance = 0.0
            var variance = 0.0
            for (x, y) in zip(xs, ys) {
                covariance += (x - meanX) * (y - meanY)
                variance += (x - meanX) * (x - meanX)
            }
            trend = variance > 0 ? covariance / variance : nil
        }
        return Summary(daily: change(over: 1), weekly: change(over: 7), monthly: change(over: 30), bytesPerDay: trend)
    }

    /// Days until `freeBytes` are used at `bytesPerDay`; nil when the database is not growing.
    public static func daysUntilFull(bytesPerDay: Double?, freeBytes: Int64) -> Double? {
        guard let bytesPerDay, bytesPerDay > 0 else { return nil }
        return Double(max(0, freeBytes)) / bytesPerDay
    }

    /// At most `points` samples for a chart: the newest of each equal slice of time, so a month of
    /// 15-minute samples draws as fast as a day's.
    public static func thinned(_ samples: [Sample], points: Int) -> [Sample] {
        let sorted = samples.sorted { $0.at < $1.at }
        guard points > 1, sorted.count > points, let first = sorted.first, let last = sorted.last, last.at > first.at else { return sorted }
        let width = Double(last.at - first.at) / Double(points)
        var kept: [Int: Sample] = [:]
        for sample in sorted { kept[min(points - 1, Int(Double(sample.at - first.at) / width))] = sample }
        return kept.keys.sorted().map { kept[$0]! }
    }
}
