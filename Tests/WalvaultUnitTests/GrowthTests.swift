import Testing
import WalvaultPolicy

/// The growth figures and the forecast from sampled sizes.
@Suite struct GrowthTests {
    static let day: Int64 = 86_400_000_000
    static let now: Int64 = 1_800_000_000_000_000

    func sample(daysAgo: Double, _ bytes: Int64) -> Growth.Sample {
        Growth.Sample(at: Self.now - Int64(daysAgo * Double(Self.day)), bytes: bytes)
    }

    @Test func noSamplesSayNothing() {
        #expect(Growth.summary([]) == Growth.Summary())
        let one = Growth.summary([sample(daysAgo: 0, 100)])
        #expect(one.daily == nil && one.bytesPerDay == nil)
    }

    @Test func changesCompareTheNewestWithTheNewestSampleThatOld() {
        // 1 MB a day for 40 days, sampled daily.
        let samples = (0...40).map { sample(daysAgo: Double($0), Int64((40 - $0) * 1_000_000)) }
        let summary = Growth.summary(samples)
        #expect(summary.daily == 1_000_000 && summary.weekly == 7_000_000 && summary.monthly == 30_000_000)
        #expect(abs((summary.bytesPerDay ?? 0) - 1_000_000) < 1)
        // In any order.
        #expect(Growth.summary(samples.reversed()) == summary)
    }

    @Test func aWeekOfSamplesHasNoMonthlyFigureYet() {
        let samples = (0...7).map { sample(daysAgo: Double($0), Int64((7 - $0) * 10)) }
        let summary = Growth.summary(samples)
        #expect(summary.weekly == 70 && summary.monthly == nil)
    }

    @Test func theTrendNeedsAnHourAndIgnoresSamplesOlderThanThirtyDays() {
        #expect(Growth.summary([sample(daysAgo: 0.01, 100), sample(daysAgo: 0, 200)]).bytesPerDay == nil)
        // A big drop 60 days ago does not weigh on the last 30 days' trend.
        let samples = [sample(daysAgo: 60, 1_000_000_000)] + (0...30).map { sample(daysAgo: Double($0), Int64((30 - $0) * 100)) }
        #expect(abs((Growth.summary(samples).bytesPerDay ?? 0) - 100) < 0.001)
        // Shrinking is a negative trend, and never a forecast.
        let shrinking = (0...10).map { sample(daysAgo: Double($0), Int64($0 * 100)) }
        #expect((Growth.summary(shrinking).bytesPerDay ?? 0) < 0)
        #expect(Growth.daysUntilFull(bytesPerDay: Growth.summary(shrinking).bytesPerDay, freeBytes: 1000) == nil)
    }

    @Test func theForecastIsFreeSpaceOverTheTrend() {
        #expect(Growth.daysUntilFull(bytesPerDay: 1_000_000, freeBytes: 30_000_000) == 30)
        #expect(Growth.daysUntilFull(bytesPerDay: nil, freeBytes: 30) == nil)
        #expect(Growth.daysUntilFull(bytesPerDay: 0, freeBytes: 30) == nil)
        #expect(Growth.daysUntilFull(bytesPerDay: 10, freeBytes: -5) == 0)
    }

    @Test func aLongSeriesIsThinnedToTheNewestOfEachSlice() {
        let samples = (0..<2880).map { Growth.Sample(at: Int64($0) * 900_000_000, bytes: Int64($0)) }
        let thinned = Growth.thinned(samples, points: 240)
        #expect(thinned.count <= 240 && thinned.count >= 230)
        #expect(thinned.last == samples.last, "the newest is always drawn")
        #expect(thinned == thinned.sorted { $0.at < $1.at })
        #expect(Growth.thinned(Array(samples.prefix(10)), points: 240) == Array(samples.prefix(10)))
    }
}
