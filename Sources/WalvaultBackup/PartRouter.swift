import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Receives one part's decompressed bytes, in part order, and hashes each run as part of the file
/// the manifest says it belongs to; a file's hash is checked against its SHA-256 when its last
/// byte has arrived, so a file spanning parts is verified whole. Verify's reader: it records
/// mismatches instead of stopping at the first. (Restore writes with `RestoreWriter`.)
package final class PartRouter: ByteSink {
    package struct Piece: Sendable {
        package let entry: Int
        package let length: Int
        package let isLast: Bool
        /// Where the piece's bytes go in its file.
        package let fileOffset: Int
    }

    private let pieces: [Piece]
    private let manifest: BackupManifest
    private let skipped: Set<Int>
    private var index = 0
    private var remaining: Int
    private var open: [Int: SHA256Hasher]
    /// The entries whose bytes did not match their checksum.
    package private(set) var mismatched: [Int] = []
    /// Entries whose last byte arrived and matched.
    package private(set) var verified = 0

    /// - Parameter skipping: entries not to hash (their earlier bytes were in a part that failed).
    package init(pieces: [Piece], manifest: BackupManifest, carriedOver: [Int: SHA256Hasher], skipping: Set<Int> = []) {
        self.pieces = pieces
        self.manifest = manifest
        self.open = carriedOver
        self.skipped = skipping
        remaining = pieces.first?.length ?? 0
    }

    /// Each part's pieces (parts numbered from 1), in the order its bytes arrive.
    package static func pieces(of manifest: BackupManifest) -> [Int: [Piece]] {
        var byPart: [Int: [(offset: Int, piece: Piece)]] = [:]
        for (index, entry) in manifest.entries.enumerated() {
            guard let chunks = entry.chunks else { continue }
            var fileOffset = 0
            for (n, chunk) in chunks.enumerated() {
                byPart[chunk.part, default: []].append(
                    (chunk.offset, Piece(entry: index, length: chunk.length, isLast: n == chunks.count - 1, fileOffset: fileOffset)))
                fileOffset += chunk.length
            }
        }
        return byPart.mapValues { $0.sorted { $0.offset < $1.offset }.map(\.piece) }
    }

    /// Files still being hashed at the end of the part: they continue in the next one.
    package var stillOpen: [Int: SHA256Hasher] { open }

    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            guard index < pieces.count else {
                throw CommandError(
                    problem: "a backup part holds more bytes than its manifest says", fix: "the backup is damaged; choose another with --backup")
            }
            let piece = pieces[index]
            let take = min(remaining, bytes.count - offset)
            if !skipped.contains(piece.entry) {
                hasher(for: piece.entry).update(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            }
            offset += take
            remaining -= take
            if remaining == 0 { try endPiece() }
        }
    }

    package func finish() throws {
        // Zero-length pieces at the very end (none are written), then completeness.
        while index < pieces.count && remaining == 0 && pieces[index].length == 0 { try endPiece() }
        guard index == pieces.count else {
            throw CommandError(
                problem: "a backup part holds fewer bytes than its manifest says", fix: "the backup is damaged; choose another with --backup")
        }
    }

    private func endPiece() throws {
        let piece = pieces[index]
        if piece.isLast, let done = open.removeValue(forKey: piece.entry) {
            if done.finalizeHex() == manifest.entries[piece.entry].sha256 { verified += 1 } else { mismatched.append(piece.entry) }
        }
        index += 1
        remaining = index < pieces.count ? pieces[index].length : 0
    }

    private func hasher(for entry: Int) -> SHA256Hasher {
        if let existing = open[entry] { return existing }
        let hasher = SHA256Hasher()
        open[entry] = hasher
        return hasher
    }
}
