#if canImport(Glibc)
import Glibc
#endif
import WalvaultCatalog
import WalvaultPipeline
import WalvaultSystem

/// Receives one part's decompressed bytes and writes each run to the file the manifest says it
/// belongs to. Files are opened when their first byte arrives and checked against their own
/// SHA-256 when their last byte has been written, so a file spanning parts is verified whole.
/// Without paths (verify) it only hashes, and records mismatches instead of stopping at the first.
final class PartRouter: ByteSink {
    struct Piece {
        let entry: Int
        let length: Int
        let isLast: Bool
    }

    private let pieces: [Piece]
    private let paths: [String]?
    private let manifest: BackupManifest
    private let skipped: Set<Int>
    private var index = 0
    private var remaining: Int
    private var open: [Int: (file: FileDescriptor?, hasher: SHA256Hasher)]
    /// Hash-only mode: the entries whose bytes did not match their checksum.
    private(set) var mismatched: [Int] = []
    /// Hash-only mode: entries whose last byte arrived and matched.
    private(set) var verified = 0

    /// - Parameters:
    ///   - paths: where each manifest entry is written (pg_control goes to a side name); nil to
    ///     hash only.
    ///   - skipping: entries not to hash (hash-only: their earlier bytes were in a part that failed).
    init(pieces: [Piece], paths: [String]?, manifest: BackupManifest, carriedOver: [Int: (file: FileDescriptor?, hasher: SHA256Hasher)],
         skipping: Set<Int> = []) {
        self.pieces = pieces
        self.paths = paths
        self.manifest = manifest
        self.open = carriedOver
        self.skipped = skipping
        remaining = pieces.first?.length ?? 0
    }

    /// Each part's pieces (parts numbered from 1), in the order its bytes arrive.
    static func pieces(of manifest: BackupManifest) -> [Int: [Piece]] {
        var byPart: [Int: [(offset: Int, piece: Piece)]] = [:]
        for (index, entry) in manifest.entries.enumerated() {
            guard let chunks = entry.chunks else { continue }
            for (n, chunk) in chunks.enumerated() {
                byPart[chunk.part, default: []].append((chunk.offset, Piece(entry: index, length: chunk.length, isLast: n == chunks.count - 1)))
            }
        }
        return byPart.mapValues { $0.sorted { $0.offset < $1.offset }.map(\.piece) }
    }

    /// Files still open at the end of the part: they continue in the next one.
    var stillOpen: [Int: (file: FileDescriptor?, hasher: SHA256Hasher)] { open }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            guard index < pieces.count else {
                throw CommandError(problem: "a backup part holds more bytes than its manifest says", fix: "the backup is damaged; choose another with --backup")
            }
            let piece = pieces[index]
            let take = min(remaining, bytes.count - offset)
            if !skipped.contains(piece.entry) {
                let target = try file(for: piece.entry)
                let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)])
                try target.file?.writeAll(slice)
                target.hasher.update(slice)
            }
            offset += take
            remaining -= take
            if remaining == 0 { try endPiece() }
        }
    }

    func finish() throws {
        // Zero-length pieces at the very end (none are written), then completeness.
        while index < pieces.count && remaining == 0 && pieces[index].length == 0 { try endPiece() }
        guard index == pieces.count else {
            throw CommandError(problem: "a backup part holds fewer bytes than its manifest says", fix: "the backup is damaged; choose another with --backup")
        }
    }

    private func endPiece() throws {
        let piece = pieces[index]
        if piece.isLast, let done = open.removeValue(forKey: piece.entry) {
            let entry = manifest.entries[piece.entry]
            let matches = done.hasher.finalizeHex() == entry.sha256
            guard let file = done.file else {
                if matches { verified += 1 } else { mismatched.append(piece.entry) }
                index += 1
                remaining = index < pieces.count ? pieces[index].length : 0
                return
            }
            guard matches else {
                throw CommandError(problem: "restored file \(entry.path) does not match its checksum in the manifest", fix: "the backup is damaged; choose another with --backup")
            }
            try file.sync()
            try file.close()
        }
        index += 1
        remaining = index < pieces.count ? pieces[index].length : 0
    }

    private func file(for entry: Int) throws -> (file: FileDescriptor?, hasher: SHA256Hasher) {
        if let existing = open[entry] { return existing }
        guard let paths else {
            let hashing = (file: FileDescriptor?.none, hasher: SHA256Hasher())
            open[entry] = hashing
            return hashing
        }
        let mode = mode_t(manifest.entries[entry].mode & 0o7777)
        let file = try FileDescriptor.open(paths[entry], flags: O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        let opened = (file: Optional(file), hasher: SHA256Hasher())
        open[entry] = opened
        return opened
    }
}
