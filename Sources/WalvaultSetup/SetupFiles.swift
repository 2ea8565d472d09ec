import WalvaultKit
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The files init writes, each whole under its final name (temporary name, fsync, rename) and
/// none replaced silently: a file with the same bytes is left alone, which is what makes a second
/// init change nothing; a different one is replaced only when the caller allows it, keeping the
/// old one as `.bak`.
public enum SetupFiles {
    public enum Outcome: Equatable, Sendable {
        case created
        case unchanged
        /// Replaced; the old file is at this path.
        case replaced(backup: String)
    }

    /// - Parameter replace: nil refuses a different existing file with this error; otherwise it is kept as `.bak`.
    public static func write(
        _ path: String, contents: [UInt8], mode: mode_t, owner: ProcessIdentity.Account?, refusal: CommandError?
    ) throws -> Outcome {
        var outcome = Outcome.created
        if let existing = try FileSystem.status(path) {
            guard existing.kind == .file else {
                throw CommandError(problem: "\(path) exists and is not a regular file", fix: "move it away, then run init again")
            }
            if try FileSystem.readSmallFile(path, limit: 4 << 20) == contents {
                try ensure(path, mode: mode, owner: owner)
                return .unchanged
            }
            if let refusal { throw refusal }
            let backup = path + ".bak"
            try FileSystem.rename(path, to: backup)
            outcome = .replaced(backup: backup)
        }
        try FileSystem.makeDirectories(Paths.dirname(path), mode: 0o755)
        try FileSystem.writeAtomically(path, contents: contents, mode: mode)
        try ensure(path, mode: mode, owner: owner)
        return outcome
    }

    /// A secret generated once: kept as it is when the file already exists, never regenerated,
    /// since replacing a passphrase would make everything stored with the old one unreadable.
    /// - Returns: whether it was created now.
    public static func createSecret(_ path: String, contents: [UInt8], owner: ProcessIdentity.Account?) throws -> Bool {
        if let existing = try FileSystem.status(path) {
            guard existing.kind == .file, existing.size > 0 else {
                throw CommandError(problem: "\(path) exists but is not a non-empty file", fix: "move it away, then run init again")
            }
            try ensure(path, mode: 0o600, owner: owner)
            return false
        }
        try FileSystem.makeDirectories(Paths.dirname(path), mode: 0o755)
        try FileSystem.writeAtomically(path, contents: contents, mode: 0o600)
        try ensure(path, mode: 0o600, owner: owner)
        return true
    }

    /// A directory the cluster's owner works in (the spool), created with its parents.
    public static func ownedDirectory(_ path: String, owner: ProcessIdentity.Account?) throws {
        try FileSystem.makeDirectories(path, mode: 0o700)
        if let owner { try ProcessIdentity.giveOwnership(of: path, to: owner) }
    }

    /// What an init killed mid-way left in the config's directory: `.NAME.init-PID` (its probe
    /// config) and `.NAME.PID.tmp` (a write not yet renamed), of processes no longer running.
    public static func removeAbandoned(in directory: String, startingWith prefix: String) {
        for name in (try? FileSystem.listDirectory(directory)) ?? [] where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            let pidText =
                rest.hasPrefix("init-")
                ? rest.dropFirst("init-".count) : rest.hasSuffix(".tmp") ? rest.dropLast(".tmp".count).split(separator: ".").last ?? "" : ""
            guard let pid = Int32(pidText), pid > 0, pid != getpid(), !FileSystem.isProcessAlive(pid) else { continue }
            try? FileSystem.remove(Paths.join(directory, name))
        }
    }

    private static func ensure(_ path: String, mode: mode_t, owner: ProcessIdentity.Account?) throws {
        guard chmod(path, mode) == 0 else { throw SystemError("chmod", path: path) }
        if let owner { try ProcessIdentity.giveOwnership(of: path, to: owner) }
    }
}
