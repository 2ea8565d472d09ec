import CShims

public enum ProcessHardening {
    /// Called once a passphrase is in memory: a crash then leaves no core file to carry it,
    /// and other processes of the same user cannot attach to read it.
    @discardableResult
    public static func disableCoreDumps() -> Bool { wv_disable_core_dumps() == 0 }
}

/// glibc's allocator, set for streaming: a fixed mmap threshold (glibc otherwise raises it after
/// the first 16 MiB buffer is freed, so later ones come from the heap and stay resident) and two
/// arenas (more appear whenever threads contend, each keeping what it freed). Measured with
/// export-logs of a million rows to a local and an S3 store: 61 MiB on a quiet machine, 69 to 118
/// MiB while other tests loaded it, without these; with them, the same under load as quiet.
public enum MemoryTuning {
    public static func forStreaming() {
        wv_tune_malloc_for_streaming()
    }
}
