/// Exit statuses PostgreSQL interprets. For restore_command, any status above 125 makes
/// recovery stop with a FATAL error instead of treating the file as "not archived" and
/// promoting early, so every failure other than "no store has it" uses `abortRecovery`.
public enum ExitCodes {
    public static let success: Int32 = 0
    /// archive-push: PostgreSQL keeps the segment and retries. Must stay ≤ 125, or the archiver process restarts.
    public static let failure: Int32 = 1
    /// archive-get: no store has the file (normal at the end of recovery).
    public static let notArchived: Int32 = 1
    /// archive-get: the file may exist but cannot be delivered intact; stop recovery rather than guess.
    public static let abortRecovery: Int32 = 255
}
