import Foundation
import Testing
import WalvaultSystem

/// `walvault owner …` and `walvault serve` through the built executables: the CLI runs
/// walvault-server beside it, and every refusal is one line.
@Suite struct OwnerCommandTests {
    static let marker = "OWNER-PASSWORD-MARKER-12345"

    func dashboardConfig(_ ws: Workspace, extra: String = "") throws -> String {
        try ws.config(
            stores: [try ws.mkdir("store")],
            extra: "[dashboard]\nowner_password_file = \"\(ws.file("etc/owner.hash"))\"\ntotp_secret_file = \"\(ws.file("etc/owner.totp"))\"\n"
                + extra)
    }

    func mode(_ path: String) -> UInt32? { (try? FileSystem.status(path))??.mode }

    @Test func setPasswordStoresOnlyABcryptHashInAPrivateFile() throws {
        let ws = try Workspace()
        let config = try dashboardConfig(ws)
        let twice = try ws.write("twice", "\(Self.marker)\n\(Self.marker)\n")
        let set = try ws.walvault(["owner", "set-password", "--config", config], stdin: twice)
        #expect(set.status == 0, "\(set.stderr)")
        #expect(set.stdout.contains("stored a bcrypt hash in \(ws.file("etc/owner.hash"))"))
        let stored = try String(contentsOfFile: ws.file("etc/owner.hash"), encoding: .utf8)
        #expect(stored.hasPrefix("$2") && !stored.contains(Self.marker))
        #expect(mode(ws.file("etc/owner.hash")).map { $0 & 0o777 } == 0o600)
        #expect(!(set.stdout + set.stderr).contains(Self.marker))

        let differ = try ws.write("differ", "\(Self.marker)\nsomething-else-entirely\n")
        let refused = try ws.walvault(["owner", "set-password", "--config", config], stdin: differ)
        #expect(refused.status == 1)
        #expect(refused.stderr == "walvault owner set-password: error: the two passwords differ; run walvault owner set-password again\n")
        let short = try ws.write("short", "short\nshort\n")
        let tooShort = try ws.walvault(["owner", "set-password", "--config", config], stdin: short)
        #expect(tooShort.status == 1 && tooShort.stderr.contains("use at least 12"))
        let none = try ws.walvault(["owner", "set-password", "--config", config])
        #expect(none.status == 1 && none.stderr.contains("standard input ended before two lines"))
        // The hash from the first run is still there, untouched by the refusals.
        #expect(try String(contentsOfFile: ws.file("etc/owner.hash"), encoding: .utf8) == stored)
    }

    @Test func enrollmentWritesAPrivateSecretAndPrintsItsURIOnce() throws {
        let ws = try Workspace()
        let config = try dashboardConfig(ws)
        let enroll = try ws.walvault(["owner", "enroll-2fa", "--config", config])
        #expect(enroll.status == 0, "\(enroll.stderr)")
        #expect(enroll.stdout.hasPrefix("otpauth://totp/walvault:owner?secret=") && enroll.stdout.contains("issuer=walvault"))
        #expect(mode(ws.file("etc/owner.totp")).map { $0 & 0o777 } == 0o600)
        let again = try ws.walvault(["owner", "enroll-2fa", "--config", config])
        #expect(again.stdout != enroll.stdout, "a new enrolment is a new secret")
    }

    /// At a terminal (`Tests/Terminal/enroll.py` under a pseudo-terminal): the URI, the QR code,
    /// and the new secret written only once the app's code matches; a wrong code changes nothing.
    @Test func atATerminalItDrawsTheQRCodeAndKeepsTheOldSecretUntilACodeMatches() throws {
        let ws = try Workspace()
        let config = try dashboardConfig(ws)
        #expect(try ws.walvault(["owner", "enroll-2fa", "--config", config]).status == 0)
        let old = try String(contentsOfFile: ws.file("etc/owner.totp"), encoding: .utf8)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
            "Terminal/enroll.py"
        ).path
        func enrolAtATerminal(wrong: Bool) throws -> [String: Any] {
            let result = try run("/usr/bin/env", ["python3", script, "--walvault", ws.walvault, "--config", config] + (wrong ? ["--wrong"] : []))
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
            return try #require(object, "\(result.stdout) \(result.stderr)")
        }

        let wrong = try enrolAtATerminal(wrong: true)
        let wrongOutput = wrong["output"] as? String ?? ""
        #expect(wrong["status"] as? Int == 1, "\(wrong)")
        #expect(wrongOutput.contains("that code does not match the new secret; \(ws.file("etc/owner.totp")) was not changed"), "\(wrongOutput)")
        #expect(try String(contentsOfFile: ws.file("etc/owner.totp"), encoding: .utf8) == old)

        let right = try enrolAtATerminal(wrong: false)
        let output = right["output"] as? String ?? ""
        #expect(right["status"] as? Int == 0, "\(right)")
        // The QR code: black on white half-block lines, at least 21 modules plus the quiet zone wide.
        let drawn = output.components(separatedBy: "\r\n").filter { $0.hasPrefix("\u{1B}[30;47m") }
        #expect(drawn.count >= 15 && drawn.allSatisfy { $0.count == drawn[0].count }, "\(output)")
        #expect(output.contains("confirmed; the new secret is in \(ws.file("etc/owner.totp"))"))
        let written = try String(contentsOfFile: ws.file("etc/owner.totp"), encoding: .utf8).split(separator: "\n").first.map(String.init)
        #expect(written == right["secret"] as? String && written != old.split(separator: "\n").first.map(String.init))
        // The code is read without echo.
        let typed = try #require(right["typed"] as? String)
        #expect(typed.count == 6 && !(output.components(separatedBy: "to confirm: ").last ?? "").contains(typed), "\(output)")
    }

    @Test func serveAndOwnerRefuseInOneLineWhatIsMissing() throws {
        let ws = try Workspace()
        let plain = try ws.config(stores: [try ws.mkdir("store")])
        let noSection = try ws.walvault(["owner", "enroll-2fa", "--config", plain])
        #expect(noSection.status == 1)
        #expect(noSection.stderr.hasPrefix("walvault owner enroll-2fa: error: \(plain) has no [dashboard] section; add [dashboard]"))
        #expect(noSection.stderr.split(separator: "\n").count == 1)
        let config = try dashboardConfig(ws)
        let noPassword = try ws.walvault(["serve", "--config", config])
        #expect(noPassword.status == 1)
        #expect(
            noPassword.stderr
                == "walvault serve: error: \(ws.file("etc/owner.hash")) (dashboard.owner_password_file) does not exist; run walvault owner set-password first\n"
        )
        let badAction = try ws.walvault(["owner", "reset", "--config", config])
        #expect(badAction.status == 64 && badAction.stderr.contains("use set-password or enroll-2fa"))
        for (extra, expected) in [
            ("listen = \"localhost\"\n", "dashboard.listen: \"localhost\" is not an address and port"),
            ("tls_certificate_file = \"/etc/walvault/cert.pem\"\n", "dashboard.tls_key_file: missing, but its pair is set"),
            ("metrics_token_file = \"metrics.token\"\n", "dashboard.metrics_token_file: \"metrics.token\" is not an absolute path"),
            ("sample_minutes = 0\n", "dashboard.sample_minutes: 0 is out of range"),
            ("listn = \"127.0.0.1:1\"\n", "dashboard.listn: unknown key for [dashboard]")
        ] {
            let bad = try dashboardConfig(ws, extra: extra)
            let result = try ws.walvault(["info", "--config", bad])
            #expect(result.status == 1 && result.stderr.contains(expected), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
    }
}
