import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultPipeline
import WalvaultStores
import WalvaultSystem

/// Copies a backup's files with `[performance] backup_parallel` packers at once, each on its own
/// thread reading, hashing and compressing whole files into its own parts. With one packer, zstd's
/// own threads compress beside the reading thread (what one sequential reader can use); with
/// several, each packer keeps one zstd thread, so a packer left alone with a large file at the end
/// still uses two cores. Files are handed out largest first, so the last to finish is a small one.
/// Memory is one packer's buffers and compression context per worker, whatever the database's size.
package final class BackupCopier: @unchecked Sendable {
    private let packers: [BackupPacker]

    package init(stores: [Store], directory: String, compression: CompressionSettings, partSize: Int, parallel: Int) {
        let numbers = BackupPacker.PartNumbers()
        let threads = parallel > 1 ? 1 : ZstdCompressStage.defaultWorkers
        packers = (0..<max(1, parallel)).map { _ in
            BackupPacker(
                stores: stores, directory: directory, compression: compression, partSize: partSize, numbers: numbers, compressionThreads: threads)
        }
    }

    /// The walk's items as manifest entries, in walk order; files that vanished before they could be
    /// opened are left out (PostgreSQL dropped them meanwhile, which WAL replay accounts for).
    package func copy(_ items: [DataDirectoryWalker.Item], events: OperationObserver = IgnoredEvents()) throws -> [BackupManifest.Entry] {
        var files: [(item: Int, path: String, relative: String, mode: UInt32, size: Int)] = []
        for (index, item) in items.enumerated() {
            if case .file(let path, let relative, let mode, let size) = item { files.append((index, path, relative, mode, size)) }
        }
        files.sort { $0.size != $1.size ? $0.size > $1.size : $0.item < $1.item }
        let copied = Slots<BackupManifest.Entry?>(count: items.count)
        let jobs = files
        let meter = ProgressMeter(
            events: events, phase: "copy", unit: .bytes, total: Int64(files.reduce(0) { $0 + $1.size }), filesTotal: files.count)
        for packer in packers {
            packer.meter = meter
            packer.cancellation = events.cancellation
        }
        defer { meter.finish() }
        try ParallelJobs(cancellation: events.cancellation, doing: "copying the data directory").run(count: jobs.count, workers: packers.count) {
            worker, i in
            copied.set(jobs[i].item, try packers[worker].add(path: jobs[i].path, relative: jobs[i].relative, mode: jobs[i].mode))
        }
        let values = copied.values
        return items.enumerated().compactMap { index, item in
            switch item {
            case .entry(let entry): return entry
            case .file: return values[index] ?? nil
            }
        }
    }

    /// One more file after all the others (pg_control), by the first packer.
    package func copyLast(path: String, relative: String, mode: UInt32) throws -> BackupManifest.Entry? {
        try packers[0].add(path: path, relative: relative, mode: mode)
    }

    /// Closes every packer's last part; the backup's parts in number order.
    package func finish() throws -> [BackupManifest.Part] {
        for packer in packers { try packer.finish() }
        let numbered = packers.flatMap { zip($0.partNumbers, $0.parts) }.sorted { $0.0 < $1.0 }
        guard numbered.enumerated().allSatisfy({ $0.offset + 1 == $0.element.0 }) else {
            throw CommandError(
                problem: "the backup's parts are not numbered 1 to \(numbered.count)", fix: "this is a bug in walvault; the backup was not finished")
        }
        return numbered.map(\.1)
    }

    package func abort() {
        for packer in packers { packer.abort() }
    }
}
