import Testing

@testable import WalvaultServer

/// The server-drawn charts and the pages' sizes.
@Suite struct SVGChartTests {
    @Test func theGrowthLineSpansThePlotFromTheFirstSampleToTheLast() throws {
        let points = [SVGChart.Point(at: 0, value: 100), SVGChart.Point(at: 2_000_000, value: 300), SVGChart.Point(at: 1_000_000, value: 200)]
        let svg = try #require(SVGChart.growth(points, label: { "\($0) B" }, date: { "t\($0)" }))
        let m = SVGChart.margin
        let bottom = SVGChart.height - m.bottom
        // Sorted by time; the smallest value on the bottom line, the largest on the top one.
        #expect(
            svg.contains(
                "<polyline class=\"line\" points=\"\(m.left),\(bottom) 390,\((m.top + bottom) / 2) \(SVGChart.width - m.right),\(m.top)\"/>"),
            "\(svg)")
        #expect(svg.contains(">300 B</text>") && svg.contains(">100 B</text>") && svg.contains(">t0</text>") && svg.contains(">t2000000</text>"))
        #expect(svg.hasPrefix("<svg id=\"growth-chart\"") && svg.hasSuffix("</svg>"))
    }

    @Test func oneSampleOrNoneDrawsNothingAndAFlatLineIsDrawn() throws {
        #expect(SVGChart.growth([], label: { "\($0)" }, date: { "\($0)" }) == nil)
        #expect(SVGChart.growth([SVGChart.Point(at: 5, value: 1)], label: { "\($0)" }, date: { "\($0)" }) == nil)
        let flat = try #require(SVGChart.growth([.init(at: 0, value: 7), .init(at: 10, value: 7)], label: { "\($0)" }, date: { "\($0)" }))
        #expect(flat.contains("<polyline"))
    }

    @Test func theTimelineMarksEachBackup() throws {
        let svg = try #require(SVGChart.timeline(backups: [0, 50, 100], now: 100))
        #expect(svg.components(separatedBy: "<circle").count == 4)
        #expect(svg.contains("cx=\"10\"") && svg.contains("cx=\"\(SVGChart.width - 10)\""))
        #expect(SVGChart.timeline(backups: [], now: 1) == nil)
    }

    @Test func sizesReadAsPeopleWriteThem() {
        #expect(HumanBytes.text(512) == "512 bytes")
        #expect(HumanBytes.text(1536) == "1.5 KB")
        #expect(HumanBytes.text(2 * 1024 * 1024 * 1024) == "2.0 GB")
        #expect(HumanBytes.signed(1024 * 1024) == "+1.0 MB")
        #expect(HumanBytes.signed(-2048) == "−2.0 KB")
        #expect(HumanBytes.signed(nil) == "not known yet")
    }
}
