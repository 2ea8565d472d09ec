import WalvaultConfig
import WalvaultKit
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The owner's password hash and TOTP secret, read from the files `[dashboard]` names. Both are
/// secrets: a file others can read, or that another user owns, is refused by name, and neither
/// value is ever printed.
public struct OwnerCredentials: Sendable {
    public let passwordHash: String
    public let totpSecret: String

    public init(passwordHash: String, totpSecret: String) {
        self.passwordHash = passwordHash
        self.totpSecret = totpSecret
    }

    public static func load(_ settings: DashboardSettings) throws -> OwnerCredentials {
        let hash = try readSecret(settings.ownerPasswordFile, key: "dashboard.owner_password_file", writtenBy: "walvault owner set-password")
        let secret = try readSecret(settings.totpSecretFile, key: "dashboard.totp_secret_file", writtenBy: "walvault owner enroll-2fa")
        return OwnerCredentials(passwordHash: hash, totpSecret: secret)
    }

    /// `metrics_token_file`'s token, when the file is set.
    public static func metricsToken(_ settings: DashboardSettings) throws -> String? {
        try settings.metricsTokenFile.map {
            try readSecret($0, key: "dashboard.metrics_token_file", writtenBy: "(umask 077; openssl rand -hex 32 > \($0))")
        }
    }

    /// The first line of a 0600 file of this user's.
    static func readSecret(_ path: String, key: String, writtenBy command: String) throws -> String {
        guard let found = try? FileSystem.status(path) else {
            throw CommandError(problem: "\(path) (\(key)) does not exist", fix: "run \(command) first", errorCode: "config.invalid")
        }
        guard found.mode & 0o077 == 0 else {
            throw CommandError(
                problem: "\(path) (\(key)) can be read by others (mode \(String(found.mode & 0o777, radix: 8)))",
                fix: "chmod 600 \(path)", errorCode: "config.invalid")
        }
        guard found.owner == geteuid() else {
            throw CommandError(
                problem: "\(path) (\(key)) belongs to uid \(found.owner), not to the user the server runs as",
                fix: "chown it to the server's user, or run \(command) as that user", errorCode: "config.invalid")
        }
        let bytes = try FileSystem.readSmallFile(path, limit: 4096)
        let line = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard !line.isEmpty else {
            throw CommandError(problem: "\(path) (\(key)) is empty", fix: "run \(command) again", errorCode: "config.invalid")
        }
        return line
    }

    /// Writes `line` to `path` as a 0600 file, atomically: a crash leaves the old file or the new one.
    public static func writeSecret(_ line: String, to path: String) throws {
        try FileSystem.makeDirectories(Paths.dirname(path), mode: 0o700)
        try FileSystem.writeAtomically(path, contents: Array((line + "\n").utf8), mode: 0o600)
    }
}
