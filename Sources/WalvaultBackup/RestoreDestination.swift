import WalvaultCatalog
import WalvaultKit
import WalvaultSystem

/// A directory restore writes into (the data directory or a tablespace location), what is in it
/// now, and what restore will do to it. Decided before anything is written, by the real run and
/// by `--dry-run` alike, so a dry run that passes means the real run will not refuse.
public struct RestoreDestination: Equatable, Sendable {
    public enum Role: Equatable, Sendable {
        case dataDirectory
        case tablespace(oid: String)
    }

    public enum Action: Equatable, Sendable {
        case create
        case useEmpty
        /// `--force`: delete these entries (every one directly inside) first.
        case clear(entries: [String])
    }

    /// What the decision needs to know about a directory; read by `inspect`, built by hand in tests.
    public struct Contents: Equatable {
        public var exists = false
        public var isDirectory = true
        public var isFileSystemRoot = false
        public var entries: [String] = []
        /// Entries with another file system mounted on them.
        public var mountsBelow: [String] = []
        public var runningServerPID: Int32?
        /// `PG_VERSION` and `global/pg_control`: a PostgreSQL data directory.
        public var hasDataDirectoryFiles = false
        /// walvault's marker of a restore that has not finished.
        public var hasRestoreMarker = false

        public init() {}
    }

    /// Written first into a data directory being restored and removed once `pg_control` is in
    /// place: a restore that was interrupted is recognisable, so `--force` may clear it.
    public static let markerName = ".walvault-restore-in-progress"

    public let role: Role
    public let path: String
    public let action: Action
    /// Space the deletion frees (for the free-space check).
    public let reclaimableBytes: Int

    package var what: String {
        switch role {
        case .dataDirectory: return "--pgdata"
        case .tablespace(let oid): return "tablespace \(oid)"
        }
    }

    public var line: String {
        let subject = "\(what) \(path)"
        switch action {
        case .create: return "\(subject): does not exist, will be created"
        case .useEmpty: return "\(subject): empty, will be used"
        case .clear(let entries):
            return "\(subject): --force deletes its \(entries.count) entries first: \(entries.joined(separator: ", "))"
        }
    }

    /// The whole decision, pure: refuse in one line, or say what will happen.
    public static func decide(_ contents: Contents, role: Role, path: String, force: Bool) throws -> Action {
        let what = role == .dataDirectory ? "--pgdata" : "tablespace location"
        guard contents.exists else { return .create }
        guard contents.isDirectory else {
            throw CommandError(problem: "\(what) \(path) exists and is not a directory", fix: "choose another path")
        }
        if contents.entries.isEmpty { return .useEmpty }
        if let pid = contents.runningServerPID {
            throw CommandError(
                problem: "a PostgreSQL server (pid \(pid)) is running in \(path)",
                fix: "stop it first; walvault never restores over a running server, even with --force")
        }
        guard force else {
            throw CommandError(
                problem: "\(what) \(path) is not empty; walvault does not overwrite a data directory",
                fix: "move it aside or restore into a new directory; --force deletes its contents first if it is a PostgreSQL data directory")
        }
        guard !contents.isFileSystemRoot else {
            throw CommandError(
                problem: "--force will not delete the contents of \(path), the root of the file system",
                fix: "give the data directory itself, e.g. --pgdata /var/lib/postgresql/15/main")
        }
        guard contents.mountsBelow.isEmpty else {
            throw CommandError(
                problem:
                    "--force will not delete the contents of \(path): file systems are mounted below it (\(contents.mountsBelow.joined(separator: ", ")))",
                fix: "give the data directory itself, not a directory that holds other mounts")
        }
        switch role {
        case .dataDirectory:
            guard contents.hasDataDirectoryFiles || contents.hasRestoreMarker else {
                throw CommandError(
                    problem:
                        "--force will not delete the contents of \(path): it is not a PostgreSQL data directory (no PG_VERSION and global/pg_control) nor an interrupted walvault restore",
                    fix: "check the path; if it is right, empty it yourself or restore into a new directory")
            }
        case .tablespace:
            guard contents.entries.allSatisfy({ isTablespaceVersionDirectory($0) || $0 == markerName }) else {
                throw CommandError(
                    problem:
                        "--force will not delete the contents of tablespace location \(path): it holds more than PostgreSQL's PG_<version>_<catalog> directories (\(contents.entries.filter { !isTablespaceVersionDirectory($0) }.prefix(5).joined(separator: ", ")))",
                    fix: "check the path; if it is right, empty it yourself")
            }
        }
        return .clear(entries: contents.entries.sorted())
    }

    /// `PG_15_202209061`: what PostgreSQL creates inside a tablespace location.
    package static func isTablespaceVersionDirectory(_ name: String) -> Bool {
        let parts = name.split(separator: "_", omittingEmptySubsequences: false)
        return parts.count == 3 && parts[0] == "PG" && parts[1...].allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }

    /// Reads what is at `path` and decides.
    package static func inspect(_ path: String, role: Role, force: Bool) throws -> RestoreDestination {
        var contents = Contents()
        do {
            let survey = try DirectorySurvey.of(path)
            contents.exists = survey.exists
            contents.isDirectory = survey.isDirectory
            if survey.exists && survey.isDirectory {
                contents.isFileSystemRoot = survey.isFileSystemRoot
                contents.entries = survey.entries
                contents.mountsBelow = survey.mountsBelow
                contents.runningServerPID = runningServer(in: path)
                let version = try FileSystem.status(Paths.join(path, "PG_VERSION"))
                let control = try FileSystem.status(Paths.join(path, BackupExclusions.controlFile))
                contents.hasDataDirectoryFiles = version?.kind == .file && control?.kind == .file
                contents.hasRestoreMarker = contents.entries.contains(markerName)
            }
        } catch let error as SystemError {
            throw CommandError(cause: error, problem: "cannot inspect \(path): \(error.reason)", fix: error.hint ?? "check the path")
        }
        let action = try decide(contents, role: role, path: path, force: force)
        var reclaimable = 0
        if case .clear = action { reclaimable = (try? FileSystem.allocatedBytes(under: path)) ?? 0 }
        return RestoreDestination(role: role, path: path, action: action, reclaimableBytes: reclaimable)
    }

    package static func runningServer(in path: String) -> Int32? {
        guard let text = try? FileSystem.readSmallFile(Paths.join(path, "postmaster.pid")),
            let pid = Int32(String(decoding: text.prefix { $0 != 10 }, as: UTF8.self)), FileSystem.isProcessAlive(pid)
        else { return nil }
        return pid
    }

    /// Carries the action out: creates the directory or clears it, and marks a data directory
    /// as a restore in progress.
    package func prepare() throws {
        do {
            switch action {
            case .create: try FileSystem.makeDirectories(path, mode: 0o700)
            case .useEmpty: break
            case .clear: try FileSystem.removeContents(of: path)
            }
            if role == .dataDirectory {
                try FileSystem.writeAtomically(Paths.join(path, Self.markerName), contents: [], mode: 0o600)
            }
        } catch let error as SystemError {
            throw CommandError(cause: error, problem: "cannot prepare \(what) \(path): \(error)", fix: error.hint ?? "check the path")
        }
    }
}

/// Whether the destinations' file systems can hold what the backup will write, counting what
/// `--force` deletes first. Pure, so every case is tested without filling a disk.
public enum RestoreSpace {
    public struct Need: Equatable {
        public let path: String
        /// Identifies the file system, so destinations on one file system add up.
        public let device: UInt64
        public let bytes: Int
        public let available: Int
        public let reclaimable: Int

        public init(path: String, device: UInt64, bytes: Int, available: Int, reclaimable: Int) {
            self.path = path
            self.device = device
            self.bytes = bytes
            self.available = available
            self.reclaimable = reclaimable
        }
    }

    public static func check(_ needs: [Need]) throws {
        var seen: Set<UInt64> = []
        for need in needs where !seen.contains(need.device) {
            seen.insert(need.device)
            let same = needs.filter { $0.device == need.device }
            let bytes = same.reduce(0) { $0 + $1.bytes }
            let room = need.available + same.reduce(0) { $0 + $1.reclaimable }
            guard bytes <= room else {
                throw CommandError(
                    problem:
                        "not enough free space for the restore: \(same.map(\.path).joined(separator: " and ")) need \(bytes) bytes, but their file system has \(room) available",
                    fix:
                        "free at least \(bytes - room) bytes there (the server then needs room for replayed WAL too), or restore onto a larger file system"
                )
            }
        }
    }
}
