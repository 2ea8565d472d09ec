import WalvaultSystem

/// Exit statuses PostgreSQL interprets. For restore_command, any status above 125 makes
/// recovery stop with a FATAL error instead of treating the file as "not archived" and
/// promoting early, so every failure other than "no store has it" uses `abortRecovery`,
/// except in a standby (see `retrievalFailure`).
public enum ExitCodes {
    public static let success: Int32 = 0
    /// archive-push: PostgreSQL keeps the segment and retries. Must stay ≤ 125, or the archiver process restarts.
    public static let failure: Int32 = 1
    /// archive-get: no store has the file (normal at the end of recovery).
    public static let notArchived: Int32 = 1
    /// archive-get: the file may exist but cannot be delivered intact; stop recovery rather than guess.
    public static let abortRecovery: Int32 = 255
    /// A command line that cannot be parsed (sysexits' EX_USAGE, as swift-argument-parser uses).
    public static let usage: Int32 = 64
    /// Stopped by SIGINT or SIGTERM at a safe point: 128 + SIGINT, as a shell reports an interrupt
    /// (`operation.cancelled` in `ErrorRegistry`).
    public static let cancelled: Int32 = 130

    /// archive-get's status when a file may exist but cannot be delivered. 255 exists so that a
    /// recovery to a target never promotes early on a file it could not read. A standby never
    /// promotes on a missing file: it keeps streaming and asks again, while a status above 125
    /// would shut it down at every blip of its store. PostgreSQL runs restore_command in the data
    /// directory, so `standby.signal` there says which case this is.
    public static func retrievalFailure(dataDirectory: String = ".") -> Int32 {
        isStandby(dataDirectory: dataDirectory) ? notArchived : abortRecovery
    }

    public static func isStandby(dataDirectory: String = ".") -> Bool {
        FileSystem.exists(Paths.join(dataDirectory, "standby.signal"))
    }
}
