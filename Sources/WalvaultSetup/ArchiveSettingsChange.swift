import WalvaultKit
import WalvaultPolicy
import WalvaultPostgres
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Step 5 of init: the archive settings, through ALTER SYSTEM (postgresql.auto.conf), never by
/// editing postgresql.conf, whose layout belongs to the owner or their configuration management.
public struct ArchiveSettingsChange {
    public static let names = ["wal_level", "archive_mode", "archive_command", "restore_command", "archive_timeout", "archive_library"]

    public let conninfo: String
    public let configPath: String
    public let executable: String

    public init(conninfo: String, configPath: String, executable: String) {
        self.conninfo = conninfo
        self.configPath = configPath
        self.executable = executable
    }

    public var archiveCommand: String { "\(Self.shellWord(executable)) --config \(Self.shellWord(configPath)) archive-push %p" }
    public var restoreCommand: String { "\(Self.shellWord(executable)) --config \(Self.shellWord(configPath)) archive-get %f \"%p\"" }

    public struct Outcome: Sendable {
        public let changes: [ArchiveSettingsPlan.Change]
        /// Settings that were changed (now or by an earlier run) and wait for a restart.
        public let pendingRestart: [String]
    }

    /// What would change, or the refusal: init asks before it writes anything.
    public func planned(force: Bool) throws -> [ArchiveSettingsPlan.Change] {
        try plan(try PostgresConnection(conninfo: conninfo), force: force)
    }

    private func plan(_ db: PostgresConnection, force: Bool) throws -> [ArchiveSettingsPlan.Change] {
        let current = try settings(db)
        let verdict = ArchiveSettingsPlan.plan(
            current: current, archiveCommand: archiveCommand, restoreCommand: restoreCommand, force: force,
            isWalvault: { [configPath] command in
                guard let other = ArchiverCheck.configArgument(of: command) else { return false }
                return other == configPath || FileSystem.realPath(other).map { $0 == FileSystem.realPath(configPath) } == true
            })
        switch verdict {
        case .archiveLibrary(let library):
            throw CommandError(
                problem: "archive_library is '\(library)', so PostgreSQL ignores archive_command",
                fix: "ALTER SYSTEM RESET archive_library (another archiver is in use: decide which one protects this cluster), then run init again")
        case .refused(let setting, let existing):
            throw CommandError(
                problem: "\(setting) already runs '\(existing)', which is not walvault with this config",
                fix: "run init with --force to replace it (that program stops receiving WAL), or keep it and do not use walvault here")
        case .changes(let changes):
            return changes
        }
    }

    /// Alters what differs, reloads, and reports what still waits for a restart.
    public func apply(force: Bool) throws -> Outcome {
        let db = try PostgresConnection(conninfo: conninfo)
        let changes = try plan(db, force: force)
        for change in changes {
            _ = try db.query("ALTER SYSTEM SET \(change.name) = \(Self.literal(change.to))")
        }
        if !changes.isEmpty {
            let loaded = try db.value("SELECT pg_conf_load_time()")
            _ = try db.query("SELECT pg_reload_conf()")
            try waitForReload(db, after: loaded)
        }
        let pending = try db.query(
            "SELECT name FROM pg_settings WHERE pending_restart AND name = ANY($1::text[])", ["{wal_level,archive_mode}"]
        ).compactMap { $0.first ?? nil }
        let now = try settings(db)
        let stillOff = [
            ("wal_level", ArchiveSettingsPlan.archivingWALLevels), ("archive_mode", ArchiveSettingsPlan.archivingModes)
        ].filter { name, archiving in !archiving.contains(now[name] ?? "") }.map(\.0)
        return Outcome(changes: changes, pendingRestart: Array(Set(pending + stillOff)).sorted())
    }

    private func settings(_ db: PostgresConnection) throws -> [String: String] {
        var found: [String: String] = [:]
        for row in try db.query("SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])", ["{\(Self.names.joined(separator: ","))}"]) {
            if let name = row[0] { found[name] = row[1] ?? "" }
        }
        // With archive_mode off, PostgreSQL shows archive_command as "(disabled)": what is
        // configured is then read from the files, so another tool's command is still seen.
        if found["archive_command"] == "(disabled)" {
            let configured = try db.query(
                "SELECT setting FROM pg_file_settings WHERE name = 'archive_command' AND error IS NULL ORDER BY seqno DESC LIMIT 1")
            found["archive_command"] = (configured.first?.first ?? nil) ?? ""
        }
        return found
    }

    /// pg_reload_conf only signals the postmaster; this backend has read the files once its
    /// load time moves (archive_command itself shows "(disabled)" while archive_mode is off).
    private func waitForReload(_ db: PostgresConnection, after loaded: String) throws {
        for _ in 0..<100 {
            usleep(100_000)
            if try db.value("SELECT pg_conf_load_time()") != loaded { return }
        }
        throw CommandError(
            problem: "the server did not take the new archive_command within 10 s of pg_reload_conf()",
            fix: "see the server log for a configuration error, then run init again")
    }

    /// A string constant: standard_conforming_strings is on from PostgreSQL 9.1, so only ' doubles.
    static func literal(_ text: String) -> String { "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''") + "'" }

    /// A word for /bin/sh, which PostgreSQL runs archive_command with: quoted only when it must be.
    static func shellWord(_ text: String) -> String {
        let plain = text.utf8.allSatisfy { c in
            (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) || Array("/._-+=:,@".utf8).contains(c)
        }
        if plain && !text.isEmpty { return text }
        return "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }
}
