import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline

/// How verify judges one file's bytes as a backup's parts hand them over, in file order within
/// each backup. A format-2 part's name already covers its stored bytes with SHA-256, so what is
/// left to check is that the manifest places the right bytes in each file.
package protocol FileCheck: AnyObject {
    /// The file's bytes from `fileOffset` on.
    func update(_ bytes: UnsafeRawBufferPointer, at fileOffset: Int) throws
    /// Once no more of the file's bytes will come.
    func finish() -> FileVerdict
}

package enum FileVerdict: Equatable {
    /// Every byte arrived and matched.
    case matched
    /// Some bytes did not: why, to name after the file.
    case mismatched(String)
    /// What arrived matched, but some bytes live in other backups and were not read here.
    case partlyChecked
}

/// The file's SHA-256 against the manifest's: a file without a block map (not a relation), all of
/// whose bytes are in the backup read.
package final class WholeFileHash: FileCheck {
    private let hasher = SHA256Hasher()
    private let expected: String?
    private var next = 0
    /// A damaged manifest's ranges can hand bytes over out of order: they cannot be the file.
    private var outOfOrder = false

    package init(expected: String?) { self.expected = expected }

    package func update(_ bytes: UnsafeRawBufferPointer, at fileOffset: Int) throws {
        if fileOffset != next { outOfOrder = true }
        hasher.update(bytes)
        next = fileOffset + bytes.count
    }

    package func finish() -> FileVerdict {
        !outOfOrder && hasher.finalizeHex() == expected ? .matched : .mismatched("does not match its checksum in the manifest")
    }
}

/// Each 8 KiB block against the backup's block map (XXH3-64 per block, as backup computed it from
/// the same bytes), instead of the whole file's SHA-256: XXH3 runs at memory speed, where a second
/// SHA-256 of every original byte was half of verify's time, and the part's SHA-256 has already
/// proven the stored bytes intact. It also checks the blocks an incremental stored itself, which a
/// whole-file hash cannot, since the rest of such a file is in earlier backups. Restore and drill
/// still check every file's SHA-256.
package final class BlockMapCheck: FileCheck {
    private let fingerprints: [UInt64]
    private let size: Int
    private let blockSize = BackupManifest.blockSize
    /// A block begun at the end of one piece, completed by the next (a full backup's file that
    /// spans two parts, or a file whose tail is not a whole block).
    private var pending: [UInt8] = []
    private var pendingStart = -1
    private var checked = 0
    private var lowestMismatch: Int?
    private var mismatches = 0
    private var broken: String?

    package init(fingerprints: [UInt64], size: Int) {
        self.fingerprints = fingerprints
        self.size = size
        let blocks = (size + BackupManifest.blockSize - 1) / BackupManifest.blockSize
        if blocks != fingerprints.count {
            broken = "has \(blocks) blocks, its block map \(fingerprints.count)"
        }
    }

    package func update(_ bytes: UnsafeRawBufferPointer, at fileOffset: Int) throws {
        guard broken == nil else { return }
        var offset = fileOffset
        var taken = 0
        while taken < bytes.count {
            let block = offset / blockSize
            let blockStart = block * blockSize
            let blockEnd = min(blockStart + blockSize, size)
            guard blockEnd > offset else {
                broken = "holds more bytes than the manifest's size of \(size)"
                return
            }
            let take = min(blockEnd - offset, bytes.count - taken)
            let slice = UnsafeRawBufferPointer(rebasing: bytes[taken..<(taken + take)])
            if offset == blockStart, take == blockEnd - blockStart {
                try check(block, slice)
            } else if offset == blockStart {
                pending.removeAll(keepingCapacity: true)
                pending.append(contentsOf: slice)
                pendingStart = blockStart
            } else if pendingStart == blockStart, blockStart + pending.count == offset {
                pending.append(contentsOf: slice)
                if pending.count == blockEnd - blockStart {
                    try pending.withUnsafeBytes { try check(block, $0) }
                    pendingStart = -1
                }
            }
            // Else the block's start is in another backup: it cannot be checked here.
            offset += take
            taken += take
        }
    }

    private func check(_ block: Int, _ bytes: UnsafeRawBufferPointer) throws {
        if try BlockFingerprint.of(bytes) == fingerprints[block] {
            checked += 1
        } else {
            mismatches += 1
            lowestMismatch = min(block, lowestMismatch ?? block)
        }
    }

    package func finish() -> FileVerdict {
        if let broken { return .mismatched(broken) }
        if let lowest = lowestMismatch {
            return .mismatched(
                mismatches == 1
                    ? "block \(lowest) does not match the backup's block map"
                    : "\(mismatches) blocks, the first block \(lowest), do not match the backup's block map")
        }
        return checked == fingerprints.count ? .matched : .partlyChecked
    }
}

/// A file whose check cannot start, such as one whose block map the manifest places outside its
/// map part: a mismatch, with the reason, whatever its bytes.
package final class UncheckableFile: FileCheck {
    private let reason: String
    package init(_ reason: String) { self.reason = reason }
    package func update(_ bytes: UnsafeRawBufferPointer, at fileOffset: Int) throws {}
    package func finish() -> FileVerdict { .mismatched(reason) }
}
