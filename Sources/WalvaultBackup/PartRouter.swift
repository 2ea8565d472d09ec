import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Receives one part's decompressed bytes, in part order, and hands each run to the check of the
/// file the manifest says it belongs to (`FileCheck`); a file's check is judged when the last of
/// its bytes in this backup has arrived, so a file spanning parts is checked whole. Verify's
/// reader: it records mismatches instead of stopping at the first. (Restore writes with
/// `RestoreWriter`.)
package final class PartRouter: ByteSink {
    package struct Piece: Sendable {
        package let entry: Int
        /// Where the piece starts in its part's original bytes: a part of an earlier backup may
        /// hold bytes no file of this backup uses, which are skipped.
        package let partOffset: Int
        package let length: Int
        /// The last of its file's pieces in its backup's parts.
        package let lastInItsBackup: Bool
        /// Where the piece's bytes go in its file.
        package let fileOffset: Int
    }

    private let pieces: [Piece]
    private var skipped: Set<Int>
    private let checkFor: (Int) throws -> FileCheck?
    private var index = 0
    /// Bytes of the part seen so far.
    private var position = 0
    private let partSize: Int
    private var open: [Int: FileCheck]
    /// The entries whose bytes did not match, and why.
    package private(set) var mismatched: [(entry: Int, problem: String)] = []
    /// Entries all of whose bytes arrived and matched.
    package private(set) var verified = 0

    /// - Parameter checkFor: how an entry's bytes are checked; nil leaves them unchecked.
    /// - Parameter skipping: entries not to check (their earlier bytes were in a part that failed).
    /// - Parameter partSize: the part's original bytes, all of which must arrive.
    package init(
        pieces: [Piece], partSize: Int, carriedOver: [Int: FileCheck], skipping: Set<Int> = [],
        checkFor: @escaping (Int) throws -> FileCheck?
    ) {
        self.pieces = pieces
        self.partSize = partSize
        self.open = carriedOver
        self.skipped = skipping
        self.checkFor = checkFor
    }

    /// Each part's pieces, in the order its bytes arrive. Ranges must not overlap within a part.
    package static func pieces(of manifest: BackupManifest) -> [BackupManifest.PartKey: [Piece]] {
        var byPart: [BackupManifest.PartKey: [Piece]] = [:]
        for (index, entry) in manifest.entries.enumerated() {
            guard let ranges = entry.ranges else { continue }
            // Parts are read in order, and a part's pieces by offset: a file's check ends with the
            // last of its pieces to arrive from each backup, even when a damaged manifest lists
            // its ranges in another order.
            var lastOfSource: [Int: Int] = [:]
            for (n, range) in ranges.enumerated() {
                if let last = lastOfSource[range.source], (ranges[last].part, ranges[last].offset) > (range.part, range.offset) { continue }
                lastOfSource[range.source] = n
            }
            var fileOffset = 0
            for (n, range) in ranges.enumerated() {
                byPart[BackupManifest.PartKey(source: range.source, number: range.part), default: []].append(
                    Piece(
                        entry: index, partOffset: range.offset, length: range.length, lastInItsBackup: lastOfSource[range.source] == n,
                        fileOffset: fileOffset))
                fileOffset += range.length
            }
        }
        return byPart.mapValues { $0.sorted { $0.partOffset < $1.partOffset } }
    }

    /// Pieces that overlap in one part would place the same bytes twice: a damaged manifest.
    package static func checkNoOverlap(_ pieces: [BackupManifest.PartKey: [Piece]], manifest: BackupManifest) throws {
        for (key, list) in pieces {
            for (a, b) in zip(list, list.dropFirst()) where a.partOffset + a.length > b.partOffset {
                throw CommandError(
                    problem:
                        "backup \(manifest.label)'s manifest places two files' bytes at one place of part \(key.number) of \(manifest.label(ofSource: key.source))",
                    fix: "the backup is damaged; choose another with --backup")
            }
        }
    }

    /// Files still being checked at the end of the part: they continue in the next one.
    package var stillOpen: [Int: FileCheck] { open }

    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            guard position + (bytes.count - offset) <= partSize else {
                throw CommandError(
                    problem: "a backup part holds more bytes than its manifest says", fix: "the backup is damaged; choose another with --backup")
            }
            try endEmptyPieces()
            guard index < pieces.count else {
                // Bytes no file of this backup uses (a later backup changed them).
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
            let take = min(piece.partOffset + piece.length - position, bytes.count - offset)
            if let check = try check(for: piece.entry) {
                let into = piece.fileOffset + (position - piece.partOffset)
                try check.update(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]), at: into)
            }
            offset += take
            position += take
            if position == piece.partOffset + piece.length { try endPiece() }
        }
    }

    package func finish() throws {
        try endEmptyPieces()
        guard index == pieces.count, position == partSize else {
            throw CommandError(
                problem: "a backup part holds fewer bytes than its manifest says", fix: "the backup is damaged; choose another with --backup")
        }
    }

    /// Zero-length pieces carry no bytes; they end where they start.
    private func endEmptyPieces() throws {
        while index < pieces.count, pieces[index].length == 0, pieces[index].partOffset <= position { try endPiece() }
    }

    private func endPiece() throws {
        let piece = pieces[index]
        if piece.lastInItsBackup, let done = open.removeValue(forKey: piece.entry) {
            switch done.finish() {
            case .matched: verified += 1
            case .mismatched(let problem): mismatched.append((piece.entry, problem))
            case .partlyChecked: break
            }
        }
        index += 1
    }

    private func check(for entry: Int) throws -> FileCheck? {
        if let existing = open[entry] { return existing }
        guard !skipped.contains(entry) else { return nil }
        guard let check = try checkFor(entry) else {
            skipped.insert(entry)
            return nil
        }
        open[entry] = check
        return check
    }
}
