import Testing
import WalvaultKit
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultServer

/// Restore and delete: the typed word, then a TOTP code newer than the login's; and the jobs a
/// stopped server left running, settled once.
@Suite struct DestructiveConfirmationTests {
    static let now: Int64 = 1_800_000_015

    @Test func theWordComesFirstThenACodeNewerThanTheLogin() throws {
        let totp = TOTPCheck(secret: "12345678901234567890")
        let sessions = SessionStore()
        let (token, _) = sessions.open(subject: "owner", now: Self.now - 10)
        let loginCode = totp.code(atSecond: Self.now)
        #expect(totp.check(loginCode, atSecond: Self.now) == .accepted(step: Self.now / 30))
        let confirmation = DestructiveConfirmation(totp: totp, sessions: sessions)
        func refusal(_ word: String?, _ code: String?) -> CommandError? {
            confirmation.refusal(word: "RESTORE", typed: word, code: code, action: "a restore", sessionToken: token, now: Self.now + 5)
        }
        #expect(refusal(nil, totp.code(atSecond: Self.now + 30))?.errorCode == "auth.confirmation")
        #expect(refusal("restore", totp.code(atSecond: Self.now + 30))?.errorCode == "auth.confirmation")
        #expect(refusal("RESTORE ", totp.code(atSecond: Self.now + 30))?.errorCode == "auth.confirmation")
        #expect(refusal("RESTORE", nil)?.errorCode == "auth.forbidden")
        #expect(refusal("RESTORE", "")?.errorCode == "auth.forbidden")
        let replay = refusal("RESTORE", loginCode)
        #expect(replay?.errorCode == "auth.forbidden" && replay?.problem.contains("already used") == true)
        #expect(refusal("RESTORE", totp.code(atSecond: Self.now - 90))?.problem.contains("wrong or too old") == true)
        // A word refused spends no code: the next step's code still works once.
        let next = totp.code(atSecond: Self.now + 30)
        #expect(refusal("RESTORE", next) == nil)
        #expect(sessions.session(token: token, now: Self.now + 6)?.secondFactorAt == Self.now + 5)
        #expect(refusal("RESTORE", next)?.errorCode == "auth.forbidden", "no replay")
    }

    @Test func aJobWhoseProcessIsGoneIsSettledOnce() throws {
        let dir = TempDir()
        let directory = JobStatusDirectory(spool: dir.sub("spool"))
        // pid 0x7ffffff0 is never a live process here.
        try directory.write(
            JobStatus(id: "J1", operation: .backup, cluster: "main", pid: 0x7fff_fff0, processStart: 7, startedAt: 1, actor: "owner", origin: "o"))
        var done = JobStatus(id: "J2", operation: .verify, cluster: "main", pid: 0x7fff_fff0, processStart: 7, startedAt: 2, actor: "a", origin: "o")
        done.state = .succeeded
        try directory.write(done)
        let settled = directory.settleInterrupted(now: 99)
        #expect(settled.map(\.id) == ["J1"])
        #expect(settled.first?.errorCode == "operation.interrupted" && settled.first?.finishedAt == 99)
        #expect(directory.list().first { $0.id == "J1" }?.state == .interrupted)
        #expect(directory.settleInterrupted(now: 100).isEmpty, "once")
    }
}
