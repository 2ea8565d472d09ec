import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A file written under a hidden temporary name beside its destination and put in place only
/// once complete and verified, so nobody (PostgreSQL, an operator) ever sees it half-written.
/// A staged file that is never placed is removed.
package final class StagedFile {
    /// Creating or placing the file failed: the system's reason, for the caller to explain.
    package struct Failure: Problem {
        package let cause: SystemError
        package let problem: String
        package let fix: String
        package var errorCode: String { cause.errorCode }
    }

    package let destination: String
    package let temporary: String
    package let file: FileDescriptor
    private var placed = false

    package init(destination: String) throws {
        self.destination = destination
        temporary = Paths.join(Paths.dirname(destination), ".\(Paths.basename(destination)).\(getpid()).walvault-tmp")
        do {
            file = try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600)
        } catch let error as SystemError {
            throw Failure(
                cause: error, problem: "cannot write \(destination): \(error.reason)",
                fix: error.hint ?? "check that its directory exists and this user can write there")
        }
    }

    deinit { if !placed { _ = unlink(temporary) } }

    /// Renames over whatever is at the destination: PostgreSQL's %p, which it may have left from
    /// an earlier attempt and fetches again after a crash.
    package func replaceDestination() throws {
        try placing {
            try file.close()
            try FileSystem.rename(temporary, to: destination)
        }
    }

    /// Durably, and never over an existing file.
    package func placeWithoutReplacing() throws {
        try placing {
            try file.sync()
            try file.close()
            guard try FileSystem.linkNoReplace(temporary, to: destination) else {
                throw CommandError(problem: "\(destination) appeared while it was being written", fix: "remove it or choose another destination")
            }
            try FileSystem.remove(temporary)
            try FileSystem.syncDirectory(Paths.dirname(destination))
        }
    }

    private func placing(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as SystemError {
            throw Failure(cause: error, problem: "cannot place \(destination): \(error.reason)", fix: error.hint ?? "")
        }
        placed = true
    }
}
