import Testing
import WalvaultMaintenance

@testable import WalvaultServer

/// The exposition format Prometheus parses.
@Suite struct PrometheusTextTests {
    @Test func eachNameIsDescribedOnceAndLabelValuesAreEscaped() {
        let samples = [
            MetricsSnapshot.Sample(name: "walvault_store_bytes", help: "Bytes in\nthe store", labels: [("store", "a\"b\\c\nd")], value: 12),
            MetricsSnapshot.Sample(name: "walvault_store_bytes", help: "Bytes in\nthe store", labels: [("store", "s3")], value: 1.5),
            MetricsSnapshot.Sample(name: "walvault_up", help: "up", labels: [], value: 1)
        ]
        #expect(
            PrometheusText.render(samples) == """
                # HELP walvault_store_bytes Bytes in\\nthe store
                # TYPE walvault_store_bytes gauge
                walvault_store_bytes{store="a\\"b\\\\c\\nd"} 12
                walvault_store_bytes{store="s3"} 1.5
                # HELP walvault_up up
                # TYPE walvault_up gauge
                walvault_up 1

                """)
    }

    @Test func numbersAreWhatPrometheusReads() {
        #expect(PrometheusText.number(3) == "3")
        #expect(PrometheusText.number(-2) == "-2")
        #expect(PrometheusText.number(0.25) == "0.25")
        #expect(PrometheusText.number(.nan) == "NaN")
        #expect(PrometheusText.number(.infinity) == "+Inf")
        #expect(PrometheusText.number(1_796_373_300.5) == "1796373300.5")
    }
}
