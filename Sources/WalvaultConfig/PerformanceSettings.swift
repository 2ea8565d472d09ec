#if canImport(Glibc)
    import Glibc
#endif

/// `[performance]`: how far walvault works ahead of PostgreSQL.
public struct PerformanceSettings: Sendable, Equatable {
    /// archive-get: segments of the same timeline fetched, verified and decompressed ahead into the
    /// spool while PostgreSQL replays, so its later calls only hand over a checked file. 0: off.
    public var prefetch: Int
    /// archive-push: segments pushed at once when more are `.ready` than the one asked for (push-ahead);
    /// 1: off. Default: the machine's cores.
    public var pushParallel: Int

    /// restore: backup parts fetched, decrypted, decompressed and written at once, each by its own
    /// thread (memory grows with this, not with the database). Default: the machine's cores.
    public var restoreParallel: Int

    /// backup: files read, hashed and compressed at once, each by its own packer thread. 1: one
    /// reader with zstd's threads beside it. Default: the machine's cores.
    public var backupParallel: Int

    public init(
        prefetch: Int = 8, pushParallel: Int = PerformanceSettings.cores, restoreParallel: Int = PerformanceSettings.cores,
        backupParallel: Int = PerformanceSettings.cores
    ) {
        self.prefetch = prefetch
        self.pushParallel = pushParallel
        self.restoreParallel = restoreParallel
        self.backupParallel = backupParallel
    }

    public static var cores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}
