import HummingbirdBcrypt
import WalvaultConfig
import WalvaultKit

#if canImport(Glibc)
    import Glibc
#endif

/// `walvault owner set-password` and `walvault owner enroll-2fa`: the two files the owner logs in
/// with. Only a slow hash of the password is stored; the TOTP secret is random and is shown once,
/// as an otpauth:// URI.
public enum OwnerEnrolment {
    /// bcrypt's cost: 2^12 rounds, about a quarter second here, per login attempt.
    public static let bcryptCost: UInt8 = 12

    /// - Parameter lines: the password typed twice (asked at a terminal, two lines otherwise).
    public static func setPassword(_ settings: DashboardSettings, first: String, second: String) throws {
        guard first == second else {
            throw CommandError(problem: "the two passwords differ", fix: "run walvault owner set-password again", errorCode: "input.invalid")
        }
        guard first.count >= 12 else {
            throw CommandError(
                problem: "the password has \(first.count) characters", fix: "use at least 12: it guards every backup of every customer",
                errorCode: "input.invalid")
        }
        try OwnerCredentials.writeSecret(Bcrypt.hash(first, cost: bcryptCost), to: settings.ownerPasswordFile)
    }

    /// A new random secret: 32 characters of RFC 4648's base32 alphabet, 160 bits.
    public static func newSecret() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var generator = SystemRandomNumberGenerator()
        return String((0..<32).map { _ in alphabet[Int.random(in: 0..<32, using: &generator)] })
    }

    /// Writes `secret` to `totp_secret_file`, replacing the old one: codes from the old enrolment
    /// stop working. At a terminal this waits until the app has shown a code that matches.
    public static func save(_ secret: String, _ settings: DashboardSettings) throws {
        try OwnerCredentials.writeSecret(secret, to: settings.totpSecretFile)
    }
}
