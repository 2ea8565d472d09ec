/// Before a backup copies anything: will its WAL ever reach these stores? A base backup is
/// usable only with the WAL written while it ran, and a server whose archive_command is
/// `/bin/true` or another tool would let the backup copy everything, then wait out
/// `--wal-timeout` for WAL that never comes. Pure: the server's settings and statistics in,
/// a refusal or warnings out.
public struct ArchiverCheck: Equatable, Sendable {
    public var archiveMode: String
    public var archiveCommand: String
    /// PostgreSQL 15's archive_library: when set, archive_command is not used at all.
    public var archiveLibrary: String
    /// pg_stat_archiver's last_archived_wal.
    public var lastArchivedWAL: String?
    /// Whether the stores hold `lastArchivedWAL` (nil when there is none): proof that the archiver
    /// writes here, whatever its command looks like (a wrapper script, say).
    public var lastArchivedIsInStores: Bool?
    /// pg_stat_archiver's last failure, when the archiver failed more recently than it succeeded.
    public var failing: Failure?
    /// Whether `lastArchivedWAL` was archived after the configuration was last loaded. When it
    /// was not, archive_command may have been changed since: the file in the stores proves
    /// nothing about where WAL goes now.
    public var archivedSinceConfigLoad: Bool?

    public struct Failure: Equatable, Sendable {
        public let wal: String
        public let time: String
        public init(wal: String, time: String) {
            self.wal = wal
            self.time = time
        }
    }

    public init(
        archiveMode: String, archiveCommand: String, archiveLibrary: String = "", lastArchivedWAL: String? = nil,
        lastArchivedIsInStores: Bool? = nil, failing: Failure? = nil, archivedSinceConfigLoad: Bool? = nil
    ) {
        self.archiveMode = archiveMode
        self.archiveCommand = archiveCommand
        self.archiveLibrary = archiveLibrary
        self.lastArchivedWAL = lastArchivedWAL
        self.lastArchivedIsInStores = lastArchivedIsInStores
        self.failing = failing
        self.archivedSinceConfigLoad = archivedSinceConfigLoad
    }

    /// The `--config` path archive_command passes to walvault, if it names one.
    public static func configArgument(of command: String) -> String? {
        let words = command.split(separator: " ").map { String($0).trimmingCharacters(quotes: "'\"") }
        for (i, word) in words.enumerated() {
            if word == "--config", i + 1 < words.count { return words[i + 1] }
            if word.hasPrefix("--config=") { return String(word.dropFirst("--config=".count)).trimmingCharacters(quotes: "'\"") }
        }
        return nil
    }

    /// - Parameters:
    ///   - configPath: the config this backup runs with.
    ///   - sameFile: whether two paths name one file (realpath), injected to keep this pure.
    /// - Parameter forBackup: a backup about to copy (its WAL, "nothing was copied"), or `check`
    ///   looking at the server as it is (WAL in general).
    public func judge(configPath: String, forBackup: Bool = true, sameFile: (String, String) -> Bool) -> ArchiverVerdict {
        let wal = forBackup ? "the backup's WAL" : "WAL"
        let stopped = forBackup ? "; nothing was copied" : ""
        let runner = forBackup ? "this backup runs" : "check runs"
        let enable =
            "set archive_mode = on and archive_command = 'walvault --config \(configPath) archive-push %p' (see postgres-conf/), then restart the server"
        guard archiveMode == "on" || archiveMode == "always", !archiveCommand.isEmpty, archiveCommand != "(disabled)" else {
            return .refused(
                problem:
                    "WAL archiving is not configured (archive_mode = \(archiveMode), archive_command = '\(archiveCommand)'): a base backup without its WAL cannot be restored",
                fix: enable)
        }
        guard archiveLibrary.isEmpty else {
            return .refused(
                problem:
                    "archive_library = '\(archiveLibrary)' is set, so PostgreSQL archives through that module and never runs archive_command: \(wal) would not reach walvault's stores",
                fix: "set archive_library = '' and " + enable)
        }
        let stale = lastArchivedIsInStores == true && archivedSinceConfigLoad == false
        let proven = lastArchivedIsInStores == true && !stale
        let last =
            stale
            ? "it has archived nothing since the configuration was last loaded (the last file, \(lastArchivedWAL ?? "?"), came from the command before)"
            : lastArchivedWAL.map { "the last file it archived, \($0), is not in the stores" } ?? "it has not archived anything yet"
        let looksLikeWalvault = archiveCommand.contains("walvault") && archiveCommand.contains("archive-push")
        if !proven && !looksLikeWalvault {
            return .refused(
                problem:
                    "archive_command is '\(archiveCommand)', which does not run walvault archive-push, and \(last): \(wal) would never reach the stores\(stopped)",
                fix: stale
                    ? enable + "; a wrapper script around walvault counts once it has archived a file into these stores (SELECT pg_switch_wal())"
                    : enable)
        }
        if !proven, let other = Self.configArgument(of: archiveCommand), !sameFile(other, configPath) {
            return .refused(
                problem:
                    "archive_command archives with --config \(other), but \(runner) with \(configPath), and \(last): \(wal) may go to other stores\(stopped)",
                fix: "run walvault \(forBackup ? "backup" : "check") with --config \(other), or make archive_command use \(configPath)")
        }
        if let failing {
            return .ready(warnings: [
                "the archiver is failing (last failure: \(failing.wal) at \(failing.time))"
                    + (forBackup ? "; the backup waits up to --wal-timeout for its WAL" : "") + ": check the server log"
            ])
        }
        return .ready(warnings: [])
    }
}

/// What the check found: go ahead (with warnings to print first), or refuse with why and what to do.
public enum ArchiverVerdict: Equatable, Sendable {
    case ready(warnings: [String])
    case refused(problem: String, fix: String)
}

extension String {
    fileprivate func trimmingCharacters(quotes: String) -> String {
        var s = Substring(self)
        while let first = s.first, quotes.contains(first) { s = s.dropFirst() }
        while let last = s.last, quotes.contains(last) { s = s.dropLast() }
        return String(s)
    }
}
