/// What a restore needs to know of a directory it was told to write into before it decides
/// anything: whether it is there and a directory (a symlink to one counts), what it holds, whether
/// it is the file system's root, and which of its subdirectories are other file systems' mount
/// points, which `--force` must never write over.
public struct DirectorySurvey: Equatable, Sendable {
    public var exists = false
    public var isDirectory = true
    public var entries: [String] = []
    public var isFileSystemRoot = false
    public var mountsBelow: [String] = []

    public init() {}

    /// - Throws: `SystemError` when the path or a child cannot be examined.
    public static func of(_ path: String) throws -> DirectorySurvey {
        var survey = DirectorySurvey()
        guard let status = try FileSystem.status(path) else { return survey }
        survey.exists = true
        survey.isDirectory = status.kind == .directory || (status.kind == .symlink && FileSystem.isDirectory(path))
        guard survey.isDirectory else { return survey }
        survey.isFileSystemRoot = FileSystem.realPath(path) == "/"
        survey.entries = try FileSystem.listDirectory(path)
        let device = try FileSystem.status(FileSystem.realPath(path) ?? path)?.device
        survey.mountsBelow = try survey.entries.filter {
            guard let child = try FileSystem.status(Paths.join(path, $0)), child.kind == .directory else { return false }
            return child.device != device
        }
        return survey
    }
}
