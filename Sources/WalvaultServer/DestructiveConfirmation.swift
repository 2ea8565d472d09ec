import Hummingbird
import WalvaultKit

/// What restore and delete need beyond a session: the word typed by hand (RESTORE, DELETE), so a
/// stray click or a replayed request body does nothing, and a TOTP code newer than the login's,
/// so a session left open on a shared screen cannot destroy anything. A code is accepted once:
/// `TOTPCheck` refuses its step, and every step before it, ever after.
struct DestructiveConfirmation {
    let totp: TOTPCheck
    let sessions: SessionStore

    /// nil when the action may go ahead; otherwise the refusal to answer with.
    func refusal(
        word: String, typed: String?, code: String?, action: String, sessionToken: String?, now: Int64
    ) -> CommandError? {
        guard typed == word else {
            return CommandError(
                problem: typed == nil || typed == ""
                    ? "\(action) needs the typed confirmation \(word)" : "\(action): the confirmation must be exactly \(word)",
                fix: "send \"confirmation\": \"\(word)\" with a new TOTP code; nothing was done", errorCode: "auth.confirmation")
        }
        guard let code, !code.isEmpty else {
            return CommandError(
                problem: "\(action) needs a new TOTP code, even within a session",
                fix: "send \"totp\" with the code the authenticator app shows now", errorCode: "auth.forbidden")
        }
        switch totp.check(code, atSecond: now) {
        case .accepted:
            if let sessionToken { sessions.provedSecondFactor(token: sessionToken, now: now) }
            return nil
        case .replayed:
            return CommandError(
                problem: "\(action): that TOTP code was already used (the login's, or an earlier action's)",
                fix: "wait for the app's next code; nothing was done", errorCode: "auth.forbidden")
        case .wrong:
            return CommandError(
                problem: "\(action): the TOTP code is wrong or too old", fix: "send the code the app shows now; nothing was done",
                errorCode: "auth.forbidden")
        }
    }
}
