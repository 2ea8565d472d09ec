import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One `files backup` of one tree while it walks: each entry is written to an unnamed local
/// file as it is met (a tree of any size in bounded memory), and each chunk is looked up in what
/// the stores hold, this run's packs, and the previous snapshot before it is packed.
final class SnapshotState {
    let packer: PackWriter
    /// The snapshot's entries, encoded, until the snapshot is written.
    let entries: FileDescriptor
    private let keys: ChunkKeys
    private let known: ChunkTable
    private let previous: OpenedSnapshot?
    /// The previous snapshot read ahead of `previous`, for `readAhead`.
    private let previousAhead: OpenedSnapshot?
    private let cancellation: Cancellation
    /// The chunks this snapshot uses, in the order of its table: an entry names a chunk by its
    /// place here before the chunk's pack is stored.
    private var slots: [ChunkID] = []
    private var slotIndexes: [ChunkID: Int] = [:]
    private var encoded = BinaryWriter(reservingCapacity: 1 << 20)
    private let readBuffer: UnsafeMutableRawBufferPointer
    /// The chunk being cut, up to the largest a chunk can be; `chunkLength` of it is filled.
    private let chunk: UnsafeMutableRawBufferPointer
    private var chunkLength = 0

    private(set) var files = 0
    private(set) var directories = 0
    private(set) var symlinks = 0
    private(set) var bytes = 0
    private(set) var reused = 0
    private(set) var inconsistent = 0

    init(
        stores: [Store], layout: ArchiveLayout, keys: ChunkKeys, known: ChunkTable, previous: OpenedSnapshot?, level: Int,
        cancellation: Cancellation
    ) throws {
        packer = try PackWriter(stores: stores, layout: layout, level: level)
        entries = try FileDescriptor.openUnnamed(in: Environment.temporaryDirectory)
        self.keys = keys
        self.known = known
        self.previous = previous
        previousAhead = try previous?.cursor()
        self.cancellation = cancellation
        readBuffer = .allocate(byteCount: 1 << 20, alignment: 4096)
        chunk = .allocate(byteCount: ContentChunker.Sizes.files.maximum, alignment: 64)
    }

    deinit {
        hasher.stop()
        readBuffer.deallocate()
        chunk.deallocate()
    }

    /// Adds bytes to the chunk being cut (never more than the chunker's maximum).
    private func append(_ bytes: UnsafeRawBufferPointer) {
        UnsafeMutableRawBufferPointer(rebasing: chunk[chunkLength..<(chunkLength + bytes.count)]).copyMemory(from: bytes)
        chunkLength += bytes.count
    }

    /// Names the chunk cut so far, stores it if new, and starts the next: here, or on the hasher's
    /// thread for a large file (nil: its name comes from `hasher.finishFile()`).
    private func endChunk(pipelined: Bool) throws -> ChunkID? {
        defer { chunkLength = 0 }
        let bytes = UnsafeRawBufferPointer(rebasing: chunk[0..<chunkLength])
        guard pipelined else { return try store(bytes) }
        try hasher.submit(bytes)
        return nil
    }

    /// Names and stores the chunks of large files on its own thread while this one reads and
    /// cuts the next ones: the cut and the hash of a byte then cost one core's time, not two.
    private lazy var hasher: ChunkHasher = {
        // What storing a chunk needs, captured apart from this object, which the hasher's thread never touches.
        let (keys, known, previous, packer) = (keys, known, previous?.table, packer)
        return ChunkHasher { bytes in
            try SnapshotState.store(bytes, copy: nil, keys: keys, known: known, previous: previous, packer: packer)
        }
    }()

    /// Files larger than this are named on the hasher's thread; smaller ones here, where one
    /// hand-over per file would cost more than it saves.
    static let pipelineThreshold = 4 << 20

    func add(_ walked: WalkedEntry, root: String, warn: (String) -> Void) throws {
        let status = walked.status
        var entry = TreeEntry(
            kind: walked.kind!, path: walked.path, mode: UInt32(status.st_mode & 0o7777), uid: status.st_uid, gid: status.st_gid,
            mtime: Self.nanos(status.st_mtim))
        switch entry.kind {
        case .directory:
            directories += 1
        case .symlink:
            symlinks += 1
            entry.target = try readLink(walked, root: root)
        case .file:
            try cancellation.check("files backup")
            files += 1
            entry.size = Int(status.st_size)
            entry.ctime = Self.nanos(status.st_ctim)
            entry.inode = UInt64(status.st_ino)
            if let before = try previous?.entry(at: walked.path), let previous, Self.unchanged(before, status) {
                entry.sha256 = before.sha256
                entry.chunks = before.chunks.map { slot(previous.table.ids[$0]) }
                reused += 1
            } else {
                try read(walked, into: &entry, root: root, warn: warn)
            }
            bytes += entry.size
        }
        entry.encode(into: &encoded)
        if encoded.bytes.count >= 1 << 20 { try drain() }
    }

    /// Starts the kernel reading a file that will be read: not one the previous snapshot has unchanged.
    func readAhead(_ walked: WalkedEntry) {
        let status = walked.status
        guard status.st_size > 0 else { return }
        if let before = try? previousAhead?.entry(at: walked.path), Self.unchanged(before, status) { return }
        let fd = RawName.with(walked.name) { openat(walked.parent, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { return }
        _ = posix_fadvise(fd, 0, off_t(min(Int(status.st_size), Self.readAhead)), Int32(POSIX_FADV_WILLNEED))
        close(fd)
    }

    static func unchanged(_ before: TreeEntry, _ status: stat) -> Bool {
        before.kind == .file && !before.inconsistent && before.size == Int(status.st_size) && before.mtime == nanos(status.st_mtim)
            && before.ctime == nanos(status.st_ctim) && before.inode == UInt64(status.st_ino)
    }

    /// How far ahead of the reader, in a file, the kernel is asked to read.
    static let readAhead = 8 << 20

    /// Every chunk this snapshot uses, where it is stored; the entries file is complete.
    func finalTable() throws -> ChunkTable {
        try drain()
        var table = ChunkTable()
        table.reserveCapacity(slots.count)
        for id in slots {
            if let index = packer.table.index(of: id) {
                table.add(index, of: packer.table)
            } else if let index = known.index(of: id) {
                table.add(index, of: known)
            } else if let previous, let index = previous.table.index(of: id) {
                table.add(index, of: previous.table)
            } else {
                preconditionFailure("chunk \(id) is in no table")
            }
        }
        return table
    }

    private func drain() throws {
        try encoded.drain { bytes in try bytes.withUnsafeBytes { try entries.writeAll($0) } }
    }

    private func slot(_ id: ChunkID) -> Int {
        if let index = slotIndexes[id] { return index }
        slotIndexes[id] = slots.count
        slots.append(id)
        return slots.count - 1
    }

    /// Reads a file into chunks, again when it changed while it was read (size, mtime or ctime
    /// moved, or its length differs from its size), up to `readAttempts` times; then keeps the
    /// last read and flags the file, never a silent mix.
    private func read(_ walked: WalkedEntry, into entry: inout TreeEntry, root: String, warn: (String) -> Void) throws {
        let shown = "\(root)/\(TreePath.shown(walked.path))"
        for attempt in 1...FilesBackup.readAttempts {
            let fd = RawName.with(walked.name) { openat(walked.parent, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
            guard fd >= 0 else {
                throw CommandError(
                    problem: "cannot open \(shown): \(String(cString: strerror(errno)))",
                    fix: "run walvault as a user who can read the tree, or exclude the file in [[storage]] exclude", errorCode: "command.refused")
            }
            let file = FileDescriptor(raw: fd, path: shown)
            var before = stat()
            guard fstat(fd, &before) == 0 else { throw SystemError("stat", path: shown) }
            guard before.st_mode & S_IFMT == S_IFREG else {
                throw CommandError(problem: "\(shown) stopped being a regular file while it was read", fix: "run files backup again")
            }
            file.adviseSequential()
            var advisedUpTo = 0
            var chunker = ContentChunker(gear: keys.gear)
            var ids: [ChunkID] = []
            var length = 0
            chunkLength = 0
            let pipelined = Int(before.st_size) > Self.pipelineThreshold
            while true {
                if length + Self.readAhead > advisedUpTo, length < Int(before.st_size) {
                    file.adviseWillNeed(offset: advisedUpTo, length: Self.readAhead)
                    advisedUpTo += Self.readAhead
                }
                let count = try file.read(into: readBuffer)
                if count == 0 { break }
                var rest = UnsafeRawBufferPointer(rebasing: readBuffer[0..<count])
                length += count
                while !rest.isEmpty {
                    if let cut = chunker.cut(rest) {
                        append(UnsafeRawBufferPointer(rebasing: rest[0..<cut]))
                        if let id = try endChunk(pipelined: pipelined) { ids.append(id) }
                        rest = UnsafeRawBufferPointer(rebasing: rest[cut...])
                    } else {
                        append(rest)
                        break
                    }
                }
            }
            if chunkLength > 0, let id = try endChunk(pipelined: pipelined) { ids.append(id) }
            if pipelined { ids = try hasher.finishFile() }
            var after = stat()
            guard fstat(fd, &after) == 0 else { throw SystemError("stat", path: shown) }
            let steady =
                length == Int(before.st_size) && after.st_size == before.st_size && Self.nanos(after.st_mtim) == Self.nanos(before.st_mtim)
                && Self.nanos(after.st_ctim) == Self.nanos(before.st_ctim)
            if steady || attempt == FilesBackup.readAttempts {
                entry.size = length
                entry.mtime = Self.nanos(after.st_mtim)
                entry.ctime = Self.nanos(after.st_ctim)
                entry.mode = UInt32(after.st_mode & 0o7777)
                entry.sha256 = TreeEntry.digest(of: ids)
                entry.chunks = ids.map(slot)
                if !steady {
                    entry.inconsistent = true
                    inconsistent += 1
                    warn("\(shown) kept changing while it was read (\(FilesBackup.readAttempts) times): kept as last read, and flagged")
                }
                return
            }
        }
    }

    /// Names a chunk and packs it unless a store, this run or the previous snapshot has it.
    private func store(_ bytes: UnsafeRawBufferPointer) throws -> ChunkID {
        try Self.store(bytes, copy: nil, keys: keys, known: known, previous: previous?.table, packer: packer)
    }

    /// - Parameter copy: the bytes as an array when the caller has one (no second copy).
    static func store(
        _ bytes: UnsafeRawBufferPointer, copy: [UInt8]?, keys: ChunkKeys, known: ChunkTable, previous: ChunkTable?, packer: PackWriter
    ) throws -> ChunkID {
        let id = ChunkID(keys.id(of: bytes))
        if known.index(of: id) == nil, !packer.isPending(id), previous?.index(of: id) == nil {
            try packer.add(id: id, bytes: copy ?? [UInt8](copying: bytes))
        }
        return id
    }

    private func readLink(_ walked: WalkedEntry, root: String) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4097)
        let count = RawName.with(walked.name) { name in
            buffer.withUnsafeMutableBufferPointer { out in
                out.withMemoryRebound(to: CChar.self) { readlinkat(walked.parent, name, $0.baseAddress!, $0.count) }
            }
        }
        guard count >= 0 else { throw SystemError("readlink", path: "\(root)/\(TreePath.shown(walked.path))") }
        return Array(buffer[0..<count])
    }

    static func nanos(_ time: timespec) -> Int64 { Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec) }
}
