import HummingbirdOTP
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The owner's second factor (RFC 6238: 30-second steps, 6 digits, HMAC-SHA1, as every
/// authenticator app does). hummingbird-auth computes a code; the window and the replay rule are
/// ours: a code is accepted for its own step and one step either side (clock drift), and a step
/// once accepted, or any before it, is never accepted again, so a code seen over a shoulder or in a
/// log cannot be used twice.
public final class TOTPCheck: Sendable {
    public enum Verdict: Equatable, Sendable {
        case accepted(step: Int64)
        case wrong
        case replayed
    }

    private let totp: TOTP
    /// The newest step accepted so far: a code of that step or an older one is a replay.
    private let lastAccepted = Mutex<Int64>(Int64.min)

    public init(secret: String) { totp = TOTP(secret: secret, length: 6, timeStep: 30, hashFunction: .sha1) }

    /// The code for the step holding `seconds` since the epoch (enrolment's confirmation, tests).
    public func code(atSecond seconds: Int64) -> String {
        let value = totp.compute(date: Date(timeIntervalSince1970: Double(seconds)))
        let digits = String(value)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    public func check(_ code: String, atSecond seconds: Int64) -> Verdict {
        let typed = code.filter { !$0.isWhitespace }
        guard typed.count == 6, typed.allSatisfy(\.isASCII), typed.allSatisfy(\.isNumber) else { return .wrong }
        let step = seconds / 30
        for candidate in [step, step - 1, step + 1] where self.code(atSecond: candidate * 30) == typed {
            return lastAccepted.withLock { last in
                guard candidate > last else { return .replayed }
                last = candidate
                return .accepted(step: candidate)
            }
        }
        return .wrong
    }

    /// `otpauth://totp/walvault:<label>?secret=…&issuer=walvault`, for an authenticator app.
    public func authenticatorURI(label: String) -> String {
        totp.createAuthenticatorURL(label: "walvault:" + label, issuer: "walvault")
    }
}
