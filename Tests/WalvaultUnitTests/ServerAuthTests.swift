import Testing
import WalvaultServer

/// The owner's second factor, login throttling and sessions, without a server.
@Suite struct ServerAuthTests {
    /// RFC 6238, appendix B (SHA-1, secret "12345678901234567890"): the 8-digit codes' last six.
    @Test(arguments: [
        (Int64(59), "287082"), (1_111_111_109, "081804"), (1_111_111_111, "050471"), (1_234_567_890, "005924"),
        (2_000_000_000, "279037"), (20_000_000_000, "353130")
    ])
    func codesMatchTheRFCVectors(second: Int64, code: String) {
        #expect(TOTPCheck(secret: "12345678901234567890").code(atSecond: second) == code)
    }

    @Test func aCodeIsAcceptedOneStepEitherSideAndNeverTwice() {
        let now: Int64 = 1_800_000_015
        let check = TOTPCheck(secret: "12345678901234567890")
        let previous = check.code(atSecond: now - 30)
        let current = check.code(atSecond: now)
        let next = check.code(atSecond: now + 30)
        #expect(check.check(check.code(atSecond: now - 60), atSecond: now) == .wrong)
        #expect(check.check(check.code(atSecond: now + 60), atSecond: now) == .wrong)
        #expect(check.check(previous, atSecond: now) == .accepted(step: now / 30 - 1))
        #expect(check.check(previous, atSecond: now) == .replayed)
        #expect(check.check(current, atSecond: now) == .accepted(step: now / 30))
        #expect(check.check(current, atSecond: now + 1) == .replayed)
        // A step before one already accepted is a replay too, even if never typed.
        #expect(check.check(next, atSecond: now) == .accepted(step: now / 30 + 1))
        #expect(check.check(current, atSecond: now) == .replayed)
        #expect(check.check("12345", atSecond: now) == .wrong)
        #expect(check.check("abcdef", atSecond: now) == .wrong)
    }

    @Test func failedLoginsWaitTwiceAsLongEachTimeAndASuccessClears() {
        let throttle = LoginThrottle()
        #expect(throttle.wait(for: "10.0.0.1", now: 100) == 0)
        #expect(throttle.failed("10.0.0.1", now: 100) == 1)
        #expect(throttle.wait(for: "10.0.0.1", now: 100) == 1)
        #expect(throttle.failed("10.0.0.1", now: 101) == 2)
        #expect(throttle.failed("10.0.0.1", now: 103) == 4)
        #expect(throttle.wait(for: "10.0.0.1", now: 104) == 3)
        // Another address is not slowed down.
        #expect(throttle.wait(for: "10.0.0.2", now: 104) == 0)
        for second in 0..<20 { throttle.failed("10.0.0.3", now: Int64(second)) }
        #expect(throttle.wait(for: "10.0.0.3", now: 19) == LoginThrottle.maximumWait)
        throttle.succeeded("10.0.0.1")
        #expect(throttle.wait(for: "10.0.0.1", now: 104) == 0)
    }

    @Test func sessionsExpireWhenIdleAndAtTheirAbsoluteLimit() {
        let store = SessionStore(idleSeconds: 60, absoluteSeconds: 300)
        let (token, session) = store.open(subject: "owner", now: 1000)
        #expect(session.csrfToken.count >= 43 && token.count >= 43 && session.csrfToken != token)
        #expect(store.session(token: token, now: 1059)?.subject == "owner")
        #expect(store.session(token: token, now: 1118) != nil)  // touched at 1059
        #expect(store.session(token: token, now: 1178) == nil)  // idle for 60 s
        let (kept, _) = store.open(subject: "owner", now: 2000)
        for second in stride(from: Int64(2050), to: 2300, by: 50) { #expect(store.session(token: kept, now: second) != nil) }
        #expect(store.session(token: kept, now: 2300) == nil)  // absolute limit, however active
        #expect(store.session(token: "not-a-token", now: 2000) == nil)
        let (closed, _) = store.open(subject: "owner", now: 3000)
        store.close(token: closed)
        #expect(store.session(token: closed, now: 3000) == nil)
    }
}
