/// How much a base backup stores itself: `full` every byte; `diff` what changed since the newest
/// full; `incr` what changed since the newest backup of any level. The rest it references.
public enum BackupLevel: String, Codable, Sendable, CaseIterable {
    case full, diff, incr
}
