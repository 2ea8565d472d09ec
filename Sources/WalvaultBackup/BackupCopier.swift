import Synchronization
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
    /// A copied file: its manifest entry (ranges still unset) and where its bytes are.
    package typealias Copied = (entry: BackupManifest.Entry, ranges: [SourcedRange])

    private let packers: [BackupPacker]
    private let maps: SharedMapStream
    private let cores: Cores

    /// Whether a packer opening a part should compress it in its own thread or hand it to a zstd
    /// worker. While every packer has a file, each compresses in its own thread: the cores are
    /// busy, and a worker would only add its hand-off (about 13 % more CPU on the mixed data set).
    /// Once no file is left to take, a packer still working (the largest files go first) gets a
    /// worker for its next part, so the cores the others left idle help it finish.
    final class Cores: Sendable {
        let packers: Int
        let filesLeft = Atomic<Int>(0)
        let busy = Atomic<Int>(0)

        init(packers: Int) { self.packers = packers }

        func threadsForNextPart() -> Int {
            guard packers > 1 else { return ZstdCompressStage.defaultWorkers }
            return filesLeft.load(ordering: .relaxed) == 0 && busy.load(ordering: .relaxed) < packers ? 1 : 0
        }
    }

    package init(stores: [Store], directory: String, compression: CompressionSettings, partSize: Int, parallel: Int, prior: PriorBackup?) {
        let numbers = PartStream.Numbers()
        let cores = Cores(packers: max(1, parallel))
        self.cores = cores
        let maps = SharedMapStream(
            PartStream(
                stores: stores, directory: directory, kind: "map", compression: compression, partSize: partSize, numbers: PartStream.Numbers(),
                compressionThreads: { 0 }))
        self.maps = maps
        packers = (0..<max(1, parallel)).map { _ in
            BackupPacker(
                data: PartStream(
                    stores: stores, directory: directory, kind: "data", compression: compression, partSize: partSize, numbers: numbers,
                    compressionThreads: { cores.threadsForNextPart() }),
                maps: maps, prior: prior)
        }
    }

    /// The walk's items, in walk order, as entries (directories and links) or copied files; files
    /// that vanished before they could be opened are left out (PostgreSQL dropped them meanwhile,
    /// which WAL replay accounts for).
    package func copy(_ items: [DataDirectoryWalker.Item], events: OperationObserver = IgnoredEvents()) throws -> [Copied] {
        var files: [(item: Int, path: String, relative: String, mode: UInt32, size: Int)] = []
        for (index, item) in items.enumerated() {
            if case .file(let path, let relative, let mode, let size) = item { files.append((index, path, relative, mode, size)) }
        }
        files.sort { $0.size != $1.size ? $0.size > $1.size : $0.item < $1.item }
        let copied = Slots<Copied?>(count: items.count)
        let jobs = files
        let meter = ProgressMeter(
            events: events, phase: "copy", unit: .bytes, total: Int64(files.reduce(0) { $0 + $1.size }), filesTotal: files.count)
        for packer in packers {
            packer.meter = meter
            packer.cancellation = events.cancellation
        }
        defer { meter.finish() }
        cores.filesLeft.store(jobs.count, ordering: .relaxed)
        try ParallelJobs(cancellation: events.cancellation, doing: "copying the data directory").run(count: jobs.count, workers: packers.count) {
            worker, i in
            cores.filesLeft.subtract(1, ordering: .relaxed)
            cores.busy.add(1, ordering: .relaxed)
            defer { cores.busy.subtract(1, ordering: .relaxed) }
            copied.set(jobs[i].item, try packers[worker].add(path: jobs[i].path, relative: jobs[i].relative, mode: jobs[i].mode))
        }
        let values = copied.values
        return items.enumerated().compactMap { index, item in
            switch item {
            case .entry(let entry): return (entry, [])
            case .file: return values[index] ?? nil
            }
        }
    }

    /// One more file after all the others (pg_control), by the first packer.
    package func copyLast(path: String, relative: String, mode: UInt32) throws -> Copied? {
        try packers[0].add(path: path, relative: relative, mode: mode)
    }

    /// Closes every packer's last part; the backup's data parts and map parts, in number order.
    package func finish() throws -> (data: [BackupManifest.Part], maps: [BackupManifest.Part]) {
        for packer in packers { try packer.finish() }
        let data = packers.flatMap(\.parts).sorted { $0.number < $1.number }
        let maps = try maps.finish()
        for parts in [data, maps] {
            guard parts.enumerated().allSatisfy({ $0.offset + 1 == $0.element.number }) else {
                throw CommandError(
                    problem: "the backup's parts are not numbered 1 to \(parts.count)", fix: "this is a bug in walvault; the backup was not finished")
            }
        }
        return (data, maps)
    }

    package func abort() {
        for packer in packers { packer.abort() }
        maps.abort()
    }
}
