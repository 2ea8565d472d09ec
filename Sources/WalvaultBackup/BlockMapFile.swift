import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultSystem

/// One backup's block maps, as its map parts are read back, kept in an unnamed local file: 8 bytes
/// per 8 KiB block is 2 MiB for a 2 GiB cluster and 100 MiB for a 100 GiB one, so memory holds
/// one file's map at a time, whatever the cluster's size. The next incremental compares with them
/// (`PriorBackup`); verify checks each block it reads back against them.
package final class BlockMapFile {
    private let file: FileDescriptor
    /// Where each kept map part lies in `file`.
    private var kept: [Int: (start: Int, size: Int)] = [:]
    private var end = 0

    package init(temporaryDirectory: String) throws {
        file = try FileDescriptor.openUnnamed(in: temporaryDirectory)
    }

    deinit { try? file.close() }

    /// Where the next map part's bytes go: after the kept ones. A read that fails part way is
    /// simply not kept, and the next part overwrites it.
    package func sinkForNextPart() -> FileAppendingSink { FileAppendingSink(file: file, at: end) }

    /// Keeps the `size` bytes just written through `sinkForNextPart()` as map part `number`.
    package func keep(part number: Int, size: Int) {
        kept[number] = (end, size)
        end += size
    }

    /// A relation file's fingerprints (XXH3-64 of each block, in file order); false when its map
    /// is in a part not kept. A map that does not lie inside its part is a damaged manifest.
    package func fingerprints(_ range: BackupManifest.MapRange, of label: String, into buffer: inout [UInt64]) throws -> Bool {
        guard let (start, size) = kept[range.part] else { return false }
        guard range.length % 8 == 0, range.offset >= 0, range.length >= 0, range.offset + range.length <= size else {
            throw CommandError(
                problem: "backup \(label)'s manifest places a block map outside map part \(range.part)",
                fix: "the backup is damaged: take a full backup with --type full, and run walvault verify")
        }
        buffer = [UInt64](repeating: 0, count: range.length / 8)
        let got = try buffer.withUnsafeMutableBytes { try file.pread(into: $0, at: start + range.offset) }
        guard got == range.length else {
            throw CommandError(problem: "backup \(label)'s block maps are shorter than its manifest says", fix: "take a full backup with --type full")
        }
        for i in buffer.indices { buffer[i] = UInt64(littleEndian: buffer[i]) }
        return true
    }
}

/// Writes a stream into a file from an offset on.
package final class FileAppendingSink: ByteSink {
    private let file: FileDescriptor
    private var offset: Int
    package init(file: FileDescriptor, at offset: Int) {
        self.file = file
        self.offset = offset
    }
    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        try file.writeAll(bytes, at: offset)
        offset += bytes.count
    }
    package func finish() throws {}
}
