#if canImport(Glibc)
    import Glibc
#endif

/// The real-time clock, in microseconds since the epoch (the unit of every stored time). Kept
/// in one place so that decisions taking "now" can be given another moment in tests.
public enum WallClock {
    public static func nowMicros() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Int64(t.tv_sec) * 1_000_000 + Int64(t.tv_nsec / 1000)
    }
}
