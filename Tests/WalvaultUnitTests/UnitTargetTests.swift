import Testing
import WalvaultTesting

/// The unit target starts no server: the stand-ins refuse a unit test's request before starting
/// anything, so a test that needs one has to live in the integration target.
@Suite struct UnitTargetTests {
    @Test func everyServerRefusesATestOfThisTarget() {
        let requests: [(String, () throws -> Void)] = [
            ("moto", { _ = try S3TestServer.get() }),
            ("the Telegram stand-in", { _ = try TelegramStandIn() }),
            ("the fault proxy", { _ = try FaultProxy() }),
            ("the alert sinks", { _ = try AlertSinks(user: "u", password: "p") }),
            ("moto", { _ = try Driver.s3.make() }),
            ("the Telegram stand-in", { _ = try Driver.telegram.make() })
        ]
        for (what, request) in requests {
            do {
                try request()
                Issue.record("\(what) started for a unit test")
            } catch {
                #expect(
                    "\(error)" == "WalvaultUnitTests/UnitTargetTests.swift asked for \(what), and the unit target starts no server: "
                        + "move the test to WalvaultIntegrationTests")
            }
        }
        // The drivers without a server are the unit target's.
        #expect(throws: Never.self) { _ = try Driver.memory.make() }
    }
}
