import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The local fallback: one JSON record per line, appended and fsynced while the control-plane
/// database cannot be reached, and emptied only after its records are committed to the table.
public struct HistoryJournal {
    public let path: String

    public init(path: String) { self.path = path }

    /// Opens the journal locked, so a replay and an append never interleave.
    func openLocked() throws -> FileDescriptor {
        try FileSystem.makeDirectories(Paths.dirname(path), mode: 0o700)
        let file = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW, mode: 0o600)
        try file.lockExclusive()
        return file
    }

    public func append(_ record: HistoryRecord) throws {
        let file = try openLocked()
        try file.writeAll(try record.jsonLine())
        try file.sync()
        try file.close()
    }

    /// Every complete record. A last line cut short by a crash mid-append is skipped.
    public static func records(in bytes: [UInt8]) -> [HistoryRecord] {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { try? HistoryRecord.decode(line: $0) }
    }

    func readAll(_ file: FileDescriptor) throws -> [HistoryRecord] {
        try file.rewind()
        return Self.records(in: try file.readToEnd(limit: 1 << 30))
    }

    func empty(_ file: FileDescriptor) throws {
        guard ftruncate(file.raw, 0) == 0 else { throw SystemError("truncate", path: path) }
        try file.sync()
    }

    public var pendingCount: Int {
        guard let bytes = try? FileSystem.readSmallFile(path, limit: 1 << 30) else { return 0 }
        return Self.records(in: bytes).count
    }
}
