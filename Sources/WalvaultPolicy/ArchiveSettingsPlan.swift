/// What `walvault init` changes with ALTER SYSTEM, decided from the server's current settings.
/// Only what differs is altered, so a second init alters nothing; a setting that already
/// archives (wal_level logical, archive_mode always, a longer archive_timeout) is left as the
/// owner chose it. Another tool's archive_command is never replaced without `--force`: two
/// tools cannot both archive, and silently cutting the other one off would lose its copies.
public struct ArchiveSettingsPlan: Equatable, Sendable {
    public struct Change: Equatable, Sendable {
        public let name: String
        public let from: String
        public let to: String
        public init(name: String, from: String, to: String) {
            self.name = name
            self.from = from
            self.to = to
        }
    }

    public enum Verdict: Equatable, Sendable {
        case changes([Change])
        /// Another program archives (or restores) and `--force` was not given.
        case refused(setting: String, current: String)
        /// archive_library is set: PostgreSQL 15 then ignores archive_command entirely.
        case archiveLibrary(String)
    }

    /// Settings PostgreSQL reads only at start: changing them needs a restart, not a reload.
    public static let restartSettings: Set<String> = ["wal_level", "archive_mode"]
    /// The longest archive_timeout kept as it is: a quiet server must not lose more than this.
    public static let maximumTimeoutSeconds = 300
    public static let timeoutSeconds = 60
    /// Values that already archive, kept as the owner chose them.
    public static let archivingWALLevels: Set<String> = ["replica", "logical"]
    public static let archivingModes: Set<String> = ["on", "always"]

    /// - Parameters:
    ///   - current: `pg_settings.setting` by name (archive_timeout in seconds).
    ///   - isWalvault: whether a command already runs walvault (perhaps from another path or config).
    public static func plan(
        current: [String: String], archiveCommand: String, restoreCommand: String, force: Bool, isWalvault: (String) -> Bool
    ) -> Verdict {
        if let library = current["archive_library"], !library.isEmpty { return .archiveLibrary(library) }
        var changes: [Change] = []
        func set(_ name: String, _ value: String) {
            let from = current[name] ?? ""
            if from != value { changes.append(Change(name: name, from: from, to: value)) }
        }
        if !archivingWALLevels.contains(current["wal_level"] ?? "") { set("wal_level", "replica") }
        if !archivingModes.contains(current["archive_mode"] ?? "") { set("archive_mode", "on") }
        for (name, wanted) in [("archive_command", archiveCommand), ("restore_command", restoreCommand)] {
            let existing = current[name] ?? ""
            guard existing.isEmpty || existing == wanted || isWalvault(existing) || force else {
                return .refused(setting: name, current: existing)
            }
            set(name, wanted)
        }
        let timeout = Int(current["archive_timeout"] ?? "") ?? 0
        if timeout <= 0 || timeout > maximumTimeoutSeconds { set("archive_timeout", String(timeoutSeconds)) }
        return .changes(changes)
    }

    /// Of the settings changed, those that take effect only after a restart.
    public static func needingRestart(_ changes: [Change]) -> [String] {
        changes.map(\.name).filter { restartSettings.contains($0) }
    }
}
