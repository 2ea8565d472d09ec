import WalvaultKit
import WalvaultSystem

/// Where `files restore --into` writes, checked before anything is written: created when missing,
/// used when empty; a directory with something in it only with `--force`, and never the root of
/// the file system, a directory with other file systems mounted below it, or a PostgreSQL data
/// directory (the guards of `restore --force`). `--force` writes over the files the snapshot
/// has and leaves everything else where it is.
enum FilesDestination {
    struct Contents: Equatable {
        var exists = false
        var isDirectory = true
        var isEmpty = true
        var isFileSystemRoot = false
        var mountsBelow: [String] = []
        var isDataDirectory = false
    }

    enum Action: Equatable { case create, use }

    static func decide(_ contents: Contents, path: String, force: Bool) throws -> Action {
        guard contents.exists else { return .create }
        guard contents.isDirectory else {
            throw CommandError(problem: "--into \(path) exists and is not a directory", fix: "choose a directory", errorCode: "input.invalid")
        }
        if contents.isEmpty { return .use }
        guard force else {
            throw CommandError(
                problem: "--into \(path) is not empty",
                fix: "restore into an empty or new directory; --force writes over the files the snapshot has and leaves the others",
                errorCode: "input.invalid")
        }
        if contents.isFileSystemRoot {
            throw CommandError(
                problem: "--force will not write into \(path), the root of the file system", fix: "give the tree's own directory",
                errorCode: "input.invalid")
        }
        if !contents.mountsBelow.isEmpty {
            throw CommandError(
                problem: "--force will not write into \(path): file systems are mounted below it (\(contents.mountsBelow.joined(separator: ", ")))",
                fix: "give the tree's own directory", errorCode: "input.invalid")
        }
        if contents.isDataDirectory {
            throw CommandError(
                problem: "--force will not write files into \(path): it is a PostgreSQL data directory", fix: "choose another directory",
                errorCode: "input.invalid")
        }
        return .use
    }

    /// Checks, creates when missing. - Returns: the directory's absolute path.
    static func prepare(_ path: String, force: Bool) throws -> String {
        let absolute = path.hasPrefix("/") ? path : Paths.join(Environment.currentDirectory, path)
        var contents = Contents()
        do {
            let survey = try DirectorySurvey.of(absolute)
            contents.exists = survey.exists
            contents.isDirectory = survey.isDirectory
            if survey.exists && survey.isDirectory {
                contents.isEmpty = survey.entries.isEmpty
                contents.isFileSystemRoot = survey.isFileSystemRoot
                contents.mountsBelow = survey.mountsBelow
                contents.isDataDirectory =
                    FileSystem.exists(Paths.join(absolute, "PG_VERSION")) && FileSystem.exists(Paths.join(absolute, "global/pg_control"))
            }
            if try decide(contents, path: path, force: force) == .create { try FileSystem.makeDirectories(absolute, mode: 0o700) }
        } catch let error as SystemError {
            throw CommandError(cause: error, problem: "cannot use --into \(path): \(error.reason)", fix: error.hint ?? "check the path")
        }
        return FileSystem.realPath(absolute) ?? absolute
    }
}
