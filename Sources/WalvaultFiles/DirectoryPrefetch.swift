import Dispatch
import Synchronization
import WalvaultCatalog
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Lists and stats directories a little ahead of the walk, on a few threads, so that a cold
/// tree's metadata comes off the disk several requests at a time instead of one: the walk of
/// 100,000 unchanged files is mostly waiting for inodes, one after the other. What these threads
/// learn is thrown away; only the kernel's caches keep it, and the walk still lists and stats
/// everything itself, so nothing a snapshot records depends on them.
final class DirectoryPrefetch: Sendable {
    private struct State {
        /// Directories to list, latest first in walk order: the next the walk needs is last.
        var pending: [[UInt8]] = []
        /// The directory the walk lists now: anything before it in walk order, and not above it, is done.
        var walking: [UInt8] = []
        /// Directories the threads listed that the walk has not reached, in the order listed
        /// (about walk order): their count is how far ahead the threads are.
        var listedAhead: [[UInt8]] = []
        var passedAhead = 0
        var stopped = false
    }

    private let root: [UInt8]
    private let exclude: ExcludeRules
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let workers = Mutex<[JoinableThread]>([])

    /// How many directories the threads may list beyond those the walk has reached: enough to
    /// keep a few requests in flight, few enough that the caches still hold them when the walk comes.
    static let directoriesAhead = 256

    static let pendingLimit = 1 << 16

    init(root: String, exclude: ExcludeRules, threads: Int) {
        self.root = Array(root.utf8)
        self.exclude = exclude
        state.withLock { $0.pending = [[]] }
        let started = (0..<threads).map { _ in JoinableThread { self.work() } }
        workers.withLock { $0 = started }
        wake.signal()
    }

    /// The walk is listing `path`: the threads skip what it has passed and may go further ahead.
    func walking(_ path: [UInt8]) {
        let signal = state.withLock { state -> Bool in
            state.walking = path
            while state.passedAhead < state.listedAhead.count, !TreePath.precedes(path, state.listedAhead[state.passedAhead]) {
                state.passedAhead += 1
            }
            if state.passedAhead > 1024 {
                state.listedAhead.removeFirst(state.passedAhead)
                state.passedAhead = 0
            }
            // The threads fell behind and found only directories the walk had passed: they
            // start again from here (listed already, so from the cache).
            if state.pending.isEmpty, state.passedAhead == state.listedAhead.count { state.pending = [path] }
            return !state.pending.isEmpty
        }
        if signal { wake.signal() }
    }

    /// Ends the threads and waits for them; the walk is over, or failed.
    func stop() {
        state.withLock { $0.stopped = true }
        let threads = workers.withLock { $0 }
        for _ in threads { wake.signal() }
        threads.forEach { $0.join() }
    }

    private func work() {
        while true {
            wake.wait()
            while let directory = next() {
                let children = list(directory)
                let more = state.withLock { state -> Bool in
                    // A hint only: past this many, directories are left to the walk alone.
                    if state.pending.count < Self.pendingLimit {
                        for child in children { Self.insert(child, into: &state.pending) }
                    }
                    return !state.pending.isEmpty && !state.stopped
                }
                if more { wake.signal() }
            }
            if state.withLock({ $0.stopped }) { return }
        }
    }

    /// The next directory worth listing, or nil to wait for the walk (or the end).
    private func next() -> [UInt8]? {
        state.withLock { state -> [UInt8]? in
            while !state.stopped, state.listedAhead.count - state.passedAhead < Self.directoriesAhead,
                let directory = state.pending.popLast()
            {
                if Self.passed(directory, walking: state.walking) { continue }
                state.listedAhead.append(directory)
                return directory
            }
            return nil
        }
    }

    /// Keeps `pending` latest first in walk order, so that `popLast` is always the next the walk
    /// needs: several threads popping from a plain stack would list one subtree while the walk
    /// waits on another.
    static func insert(_ directory: [UInt8], into pending: inout [[UInt8]]) {
        var low = 0
        var high = pending.count
        while low < high {
            let middle = (low + high) / 2
            if TreePath.precedes(directory, pending[middle]) { low = middle + 1 } else { high = middle }
        }
        pending.insert(directory, at: low)
    }

    /// Before the walk's directory in walk order and not one of its ancestors: listed already, with all below it.
    static func passed(_ directory: [UInt8], walking: [UInt8]) -> Bool {
        TreePath.precedes(directory, walking) && !TreePath.isAncestor(directory, of: walking)
    }

    /// Lists one directory and stats what is in it; returns its subdirectories, in walk order.
    private func list(_ directory: [UInt8]) -> [[UInt8]] {
        let path = directory.isEmpty ? root : root + [UInt8(ascii: "/")] + directory
        let fd = RawName.with(path) { open($0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0, let stream = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            return []
        }
        defer { closedir(stream) }
        var children: [[UInt8]] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [46] || name == [46, 46] { continue }
            var status = stat()
            guard RawName.with(name, { fstatat(fd, $0, &status, AT_SYMLINK_NOFOLLOW) }) == 0 else { continue }
            guard status.st_mode & S_IFMT == S_IFDIR else { continue }
            let child = TreePath.join(directory, name)
            if !exclude.excludes(child, isDirectory: true) { children.append(child) }
        }
        return children.sorted(by: TreePath.precedes)
    }
}
