#if canImport(Glibc)
    import Glibc
#endif

/// UTC calendar moments and the compact `YYYYMMDDTHHMMSSZ` form that backup labels, archive
/// times in object names and AWS signatures all use; one conversion instead of one per format.
public enum UTCTime {
    /// `YYYYMMDDTHHMMSSZ`, to the second (µs since the epoch in).
    public static func compact(_ micros: Int64) -> String {
        var seconds = time_t(micros >= 0 ? micros / 1_000_000 : -((-micros + 999_999) / 1_000_000))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return pad(parts.tm_year + 1900, 4) + pad(parts.tm_mon + 1, 2) + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + pad(parts.tm_min, 2) + pad(parts.tm_sec, 2) + "Z"
    }

    /// What `compact` wrote (`20261205T030000Z`), back to µs; nil for anything else.
    public static func parseCompact(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        var fields: [Int] = []
        for (start, count) in [(0, 4), (4, 2), (6, 2), (9, 2), (11, 2), (13, 2)] {
            var value = 0
            for byte in bytes[start..<(start + count)] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            fields.append(value)
        }
        return micros(year: fields[0], month: fields[1], day: fields[2], hour: fields[3], minute: fields[4], second: fields[5])
    }

    /// µs since the epoch of a UTC moment; nil when a field is out of range or the day does not
    /// exist (31 February).
    public static func micros(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, fraction micros: Int = 0) -> Int64? {
        guard (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second) else {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = Int64(timegm(&parts))
        guard parts.tm_mday == Int32(day), parts.tm_mon == Int32(month - 1) else { return nil }
        return seconds * 1_000_000 + Int64(micros)
    }

    public static func pad<N: BinaryInteger>(_ n: N, _ width: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
