import Synchronization
import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultPolicy
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Writes a backup's parts into the restored files with several parts in flight at once: each
/// worker fetches, decrypts and decompresses one part and writes its bytes where the manifest
/// says they belong (`pwrite`, so workers share files that span parts). Every file is hashed
/// once, front to back, by `InOrderHashing`, and checked against the manifest when its last
/// byte is in. Memory is one part's pipeline per worker, whatever the database's size. Nothing
/// is fsynced here: the caller syncs each file system once, before pg_control is put in place.
package final class RestoreWriter: @unchecked Sendable {
    /// One file being written: its descriptor stays open until its hash is final.
    package final class OpenFile: @unchecked Sendable {
        package let file: FileDescriptor
        package let hasher = SHA256Hasher()
        package init(file: FileDescriptor) { self.file = file }
    }

    private struct Table {
        var files: [Int: OpenFile] = [:]
        var order: [Int: InOrderHashing] = [:]
        var finished = 0
    }

    private let manifest: BackupManifest
    private let paths: [String]
    private let piecesByPart: [BackupManifest.PartKey: [PartRouter.Piece]]
    /// Sum of each file's ranges: the length its hash is complete at.
    private let lengths: [Int: Int]
    private let table = Mutex(Table())
    private let jobs: ParallelJobs
    private let events: OperationObserver

    /// - Parameter paths: where each manifest entry is written (pg_control to its side name).
    /// - Parameter events: progress per part written; its cancellation stops the workers at their next write.
    package init(manifest: BackupManifest, paths: [String], events: OperationObserver = IgnoredEvents()) {
        self.manifest = manifest
        self.paths = paths
        self.events = events
        jobs = ParallelJobs(cancellation: events.cancellation, doing: "writing the data directory")
        piecesByPart = PartRouter.pieces(of: manifest)
        var lengths: [Int: Int] = [:]
        for (index, entry) in manifest.entries.enumerated() where entry.kind == .file {
            lengths[index] = (entry.ranges ?? []).reduce(0) { $0 + $1.length }
        }
        self.lengths = lengths
    }

    /// Runs `fetch(label, part, sink)` for every part the backup reads (its own and those of the
    /// backups it references) on `workers` threads; the first failure stops the others at their
    /// next write, and is what this throws.
    package func run(
        workers: Int, fetch: @escaping @Sendable (_ label: String, _ part: BackupManifest.Part, _ sink: ByteSink) throws -> Void
    ) throws {
        try manifest.checkRanges()
        try PartRouter.checkNoOverlap(piecesByPart, manifest: manifest)
        // Whatever is still open at the end is closed (unsynced: a failed restore leaves no pg_control).
        defer {
            let leftOver = table.withLock { table -> [OpenFile] in
                let open = Array(table.files.values)
                table.files = [:]
                return open
            }
            for file in leftOver { try? file.file.close() }
        }
        // Only parts that hold a byte of this backup are read: an earlier backup's part whose
        // every block changed since is not. A chain's parts go in the order of where their first
        // bytes land, whichever backup holds them: a full's part and the newer pages that land
        // between its runs are then written close together, so a file's hash mostly follows its
        // writes instead of reading them back, and files finish, and go to disk, as the restore
        // goes rather than all at its end.
        let parts = manifest.partsRead.filter { piecesByPart[$0.key] != nil || $0.key.source == 0 }
            .sorted { landing($0.key) < landing($1.key) }
        let meter = ProgressMeter(
            events: events, phase: "restore", unit: .bytes, total: Int64(parts.reduce(0) { $0 + $1.part.size }),
            filesTotal: parts.count, counting: .parts)
        try jobs.run(count: parts.count, workers: workers) { _, index in
            let (key, label, part) = parts[index]
            try fetch(label, part, PartSink(writer: self, pieces: piecesByPart[key] ?? [], partSize: part.size))
            meter.add(Int64(part.size), files: 1)
        }
        meter.finish()
        let unfinished = lengths.filter { $0.value > 0 }.count - table.withLock { $0.finished }
        guard unfinished == 0 else {
            throw CommandError(
                problem: "backup \(manifest.label) ends before \(unfinished) of its files are complete",
                fix: "the backup is damaged; choose another with --backup")
        }
    }

    /// Where a part's first byte goes: its file's place in the manifest, then the offset.
    private func landing(_ part: BackupManifest.PartKey) -> (Int, Int, Int, Int) {
        guard let first = piecesByPart[part]?.first else { return (Int.max, 0, part.source, part.number) }
        return (first.entry, first.fileOffset, part.source, part.number)
    }

    /// Another worker failed: this one stops at its next write.
    package struct Stopped: Error {}

    // MARK: per piece, called by the worker that streams the part holding it

    fileprivate func begin(_ piece: PartRouter.Piece) throws -> (OpenFile, InOrderHashing.Start) {
        if jobs.isStopped { throw Stopped() }
        let entry = piece.entry
        let size = lengths[entry] ?? 0
        return try table.withLock { table in
            let open: OpenFile
            if let existing = table.files[entry] {
                open = existing
            } else {
                guard table.order[entry]?.finished != true else {
                    throw CommandError(
                        problem: "backup \(manifest.label) lists bytes twice for \(manifest.entries[entry].path)",
                        fix: "the backup is damaged; choose another with --backup")
                }
                let mode = mode_t(manifest.entries[entry].mode & 0o7777)
                let file = try FileDescriptor.open(paths[entry], flags: O_RDWR | O_CREAT | O_TRUNC, mode: mode)
                // An incremental's pages land between its prior's runs, out of order: blocks
                // given now spare the file system a delayed allocation per page (a chain restore
                // measured 10 % faster), and a full disk fails here, before the data is written.
                _ = try file.allocate(length: size)
                open = OpenFile(file: file)
                table.files[entry] = open
                table.order[entry] = InOrderHashing(size: size)
            }
            return (open, table.order[entry]!.start(offset: piece.fileOffset))
        }
    }

    /// The piece is on disk (and in the hash if its worker held it): hash what waits in order.
    fileprivate func end(_ piece: PartRouter.Piece, file: OpenFile, hashedWhileWriting: Bool, buffer: inout [UInt8]) throws {
        let entry = piece.entry
        let holds = table.withLock { table -> Bool in
            if hashedWhileWriting {
                table.order[entry]!.hashed(length: piece.length)
                return true
            }
            return table.order[entry]!.written(offset: piece.fileOffset, length: piece.length)
        }
        guard holds else { return }
        while true {
            switch table.withLock({ $0.order[entry]!.next() }) {
            case .release:
                return
            case .readBack(let offset, let length):
                var done = 0
                while done < length {
                    let want = min(buffer.count, length - done)
                    let got = try buffer.withUnsafeMutableBytes {
                        try file.file.pread(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]), at: offset + done)
                    }
                    guard got == want else { throw SystemError("read back (the file is shorter than written)", path: file.file.path, code: EIO) }
                    buffer.withUnsafeBytes { file.hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<want])) }
                    done += want
                }
                table.withLock { $0.order[entry]!.hashed(length: length) }
            case .finished:
                let path = manifest.entries[entry].path
                guard file.hasher.finalizeHex() == manifest.entries[entry].sha256 else {
                    throw CommandError(
                        problem: "restored file \(path) does not match its checksum in the manifest",
                        fix: "the backup is damaged; choose another with --backup")
                }
                // What the file's pieces left dirty (a chain's small pieces, which start no
                // write-back of their own) goes to disk now, in one run, not in the final sync.
                file.file.startWriteBack(offset: 0, length: 0)
                table.withLock { table in
                    table.files[entry] = nil
                    table.finished += 1
                }
                try file.file.close()
                return
            }
        }
    }
}

/// One part's bytes, in the order they arrive, routed to the files they belong to; bytes no file
/// of the backup uses (an earlier backup's blocks that changed since) are passed over.
private final class PartSink: ByteSink {
    private let writer: RestoreWriter
    private let pieces: [PartRouter.Piece]
    private let partSize: Int
    private var index = 0
    private var current: (file: RestoreWriter.OpenFile, hashing: Bool)?
    /// Bytes of the part seen so far.
    private var position = 0
    private var readBackBuffer: [UInt8] = []

    init(writer: RestoreWriter, pieces: [PartRouter.Piece], partSize: Int) {
        self.writer = writer
        self.pieces = pieces
        self.partSize = partSize
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard position + bytes.count <= partSize else {
            throw CommandError(
                problem: "a backup part holds more bytes than its manifest says", fix: "the backup is damaged; choose another with --backup")
        }
        var offset = 0
        while offset < bytes.count {
            skipEmptyPieces()
            guard index < pieces.count else {
                position += bytes.count - offset
                return
            }
            let piece = pieces[index]
            if position < piece.partOffset {
                let skip = min(piece.partOffset - position, bytes.count - offset)
                offset += skip
                position += skip
                continue
            }
            if current == nil {
                let (file, start) = try writer.begin(piece)
                current = (file, start == .hashWhileWriting)
            }
            let written = position - piece.partOffset
            let take = min(piece.length - written, bytes.count - offset)
            let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)])
            try current!.file.file.writeAll(slice, at: piece.fileOffset + written)
            if current!.hashing { current!.file.hasher.update(slice) }
            offset += take
            position += take
            if written + take == piece.length {
                // The disk starts on a large piece while the next one decompresses; an incremental's
                // 8 KiB pages would cost a system call each, and wait for the one sync at the end.
                if piece.length >= 1 << 20 { current!.file.file.startWriteBack(offset: piece.fileOffset, length: piece.length) }
                if readBackBuffer.isEmpty { readBackBuffer = [UInt8](repeating: 0, count: 1 << 18) }
                try writer.end(piece, file: current!.file, hashedWhileWriting: current!.hashing, buffer: &readBackBuffer)
                current = nil
                index += 1
            }
        }
    }

    func finish() throws {
        skipEmptyPieces()
        guard index == pieces.count, position == partSize else {
            throw CommandError(
                problem: "a backup part holds fewer bytes than its manifest says", fix: "the backup is damaged; choose another with --backup")
        }
    }

    /// Zero-length ranges carry no bytes.
    private func skipEmptyPieces() {
        while current == nil, index < pieces.count, pieces[index].length == 0 { index += 1 }
    }
}
