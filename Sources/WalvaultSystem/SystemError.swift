#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call, kept as data so that each layer can add its own context
/// and tests can match on `code` rather than on message text.
public struct SystemError: Problem, Equatable {
    public let operation: String
    public let path: String
    public let code: Int32

    public init(_ operation: String, path: String, code: Int32 = errno) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    public var reason: String { String(cString: strerror(code)) }

    public var description: String { problem }
    public var problem: String { "cannot \(operation) \(path): \(reason)" }
    public var fix: String { hint ?? "" }

    public var errorCode: String {
        switch code {
        case ENOENT: return "system.not_found"
        case EACCES, EPERM: return "system.permission"
        case ENOSPC, EDQUOT: return "system.no_space"
        case EROFS: return "system.read_only"
        case EISDIR, ENOTDIR: return "system.wrong_kind"
        case EEXIST: return "system.exists"
        case EXDEV: return "system.other_file_system"
        default: return "system.io"
        }
    }

    /// Advice a person can act on for the errors users actually meet.
    public var hint: String? {
        switch code {
        case EACCES, EPERM: return "check the owner and permissions (the archiver runs as the postgres user)"
        case EROFS: return "the file system is read-only; remount it read-write or point the store elsewhere"
        case ENOSPC, EDQUOT: return "free space on that file system or move the store to a larger one"
        case ENOENT: return "check that the path exists"
        case EISDIR: return "it is a directory: name a file"
        case ENOTDIR: return "a part of the path is a file, not a directory: check the path"
        default: return nil
        }
    }
}
