import WalvaultCatalog
import WalvaultPipeline
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// archive-get's look-ahead: `<spool>/prefetch/<cluster>-<system identifier>/`, where the
/// background `Prefetcher` leaves the next segments of the timeline being replayed, decompressed
/// and verified, as `<segment>-<sha256>`. Tied to the system identifier of the data directory
/// being recovered (its pg_control), so a spool of another cluster, or of an earlier restore of
/// another backup set, is never read; segments of other timelines are never handed over (the
/// name must be exactly the one PostgreSQL asks for) and are removed at the next request.
public struct PrefetchSpool: Sendable {
    public let directory: String
    public let systemIdentifier: UInt64?

    public init(spool: String, cluster: String, systemIdentifier: UInt64) {
        directory = Paths.join(Self.root(spool: spool), "\(cluster)-\(systemIdentifier)")
        self.systemIdentifier = systemIdentifier
    }

    package static func root(spool: String) -> String { Paths.join(spool, "prefetch") }

    /// The spool for the cluster being recovered in `dataDirectory` (PostgreSQL runs
    /// restore_command there), when prefetch is on and there is a spool and a pg_control.
    public static func forRecovery(_ context: WalvaultContext, dataDirectory: String = ".") -> PrefetchSpool? {
        guard context.config.performance.prefetch > 0, let spool = try? context.trustedSpool,
            let identifier = try? PGControl.systemIdentifier(pgdata: dataDirectory)
        else { return nil }
        return PrefetchSpool(spool: spool, cluster: context.config.cluster.name, systemIdentifier: identifier)
    }

    /// Everything prefetched for this cluster, for any system identifier: a restore starting, or
    /// a recovery that ended, leaves no look-ahead behind to be mistaken for later.
    /// Nothing is followed: whoever can write the spool could leave a symlink there, and a
    /// restore run as root would empty whatever it points to.
    public static func removeAll(spool: String, cluster: String) {
        guard let root = try? FileDescriptor.open(root(spool: spool), flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW) else { return }
        defer { try? root.close() }
        for name in (try? FileSystem.listDirectory(root)) ?? [] where name.hasPrefix(cluster + "-") {
            try? FileSystem.removeTree(named: name, in: root)
        }
    }

    /// Says which segment PostgreSQL asked for (the worker keeps the ones after it ready), and
    /// removes what that request made useless.
    public func request(_ segment: String) throws {
        try FileSystem.makeDirectories(directory, mode: 0o700)
        // Renamed into place but not fsynced: a request lost in a crash only costs the look-ahead,
        // and archive-get runs once per segment.
        let wanted = Paths.join(directory, ".wanted")
        let temporary = wanted + ".\(getpid())"
        let file = try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600)
        try file.writeAll(Array(segment.utf8))
        try file.close()
        try FileSystem.rename(temporary, to: wanted)
        for name in PrefetchPlan.stale((try? FileSystem.listDirectory(directory)) ?? [], requested: segment) {
            try? FileSystem.remove(Paths.join(directory, name))
        }
    }

    /// The segment PostgreSQL asked for last.
    package func wanted() -> String? {
        (try? FileSystem.readSmallFile(Paths.join(directory, ".wanted"), limit: 64)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Moves the prefetched `segment` to `destination` if there is one and it is still what the
    /// worker verified: unchanged since (its identity), or hashing to its name (a file changed on
    /// disk is removed, and nil sends the caller to the stores). Renamed when the spool is on the same file system as pg_wal, else copied through
    /// a staged file; either way `destination` appears whole.
    /// A segment the worker is fetching right now (its temporary file exists and its process
    /// lives) is waited for, up to `waitSeconds`, rather than fetched a second time.
    public func handOver(_ segment: String, to destination: String, waitSeconds: Double = 10) throws -> Int? {
        let waiting = Stopwatch()
        var name: String?
        while name == nil {
            let names = (try? FileSystem.listDirectory(directory)) ?? []
            name = names.first { PrefetchPlan.parse($0)?.segment == segment }
            if name != nil { break }
            let inFlight = names.contains { entry in
                guard entry.hasPrefix(".tmp-\(segment)-"), let pid = Int32(entry.dropFirst(".tmp-\(segment)-".count)) else { return false }
                return FileSystem.isProcessAlive(pid)
            }
            guard inFlight, waiting.seconds < waitSeconds else { return nil }
            usleep(2_000)
        }
        guard let name, let expected = PrefetchPlan.parse(name)?.sha256 else { return nil }
        let path = Paths.join(directory, name)
        let sidecar = Paths.join(directory, ".id-" + name)
        defer { try? FileSystem.remove(sidecar) }
        // Verified by the worker when it got its name; unchanged since (same inode, size and
        // times) means the same bytes. Otherwise, or without the worker's note, it is hashed again.
        if let noted = try? FileSystem.readSmallFile(sidecar, limit: 256), let now = FileSystem.identity(of: path),
            String(decoding: noted, as: UTF8.self) == now, let size = try? FileSystem.size(path)
        {
            if Glibc.rename(path, destination) == 0 { return size }
        }
        let file: FileDescriptor
        do { file = try FileDescriptor.openForReading(path) } catch { return nil }
        let hashing = HashingStage(next: DiscardSink())
        let size = try StreamPump.pump(from: file, into: hashing)
        guard hashing.hexDigest == expected else {
            try? FileSystem.remove(path)
            return nil
        }
        if Glibc.rename(path, destination) == 0 { return size }
        guard errno == EXDEV else { throw SystemError("rename to", path: destination) }
        let staged = try StagedFile(destination: destination)
        try file.rewind()
        _ = try StreamPump.pump(from: file, into: FileSink(file: staged.file))
        try staged.replaceDestination()
        try? FileSystem.remove(path)
        return size
    }
}
