import WalvaultPolicy
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Where a restore should stop.
public enum RecoveryTarget: Equatable, Sendable {
    /// Replay all archived WAL.
    case latest
    /// Stop before the first transaction that committed after this moment (microseconds since
    /// the Unix epoch, UTC).
    case time(Int64)

    /// A moment as `YYYY-MM-DD HH:MM:SS[.ffffff][Z|+HH|+HH:MM|+HHMM]`. Without an offset the
    /// time is read in this machine's time zone, as a person at this terminal means it.
    public static func parseTime(_ text: String) -> Int64? {
        let chars = Array(text.trimmingSpaces().utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= chars.count else { return nil }
            var n = 0
            for c in chars[range] {
                guard c >= 48 && c <= 57 else { return nil }
                n = n * 10 + Int(c - 48)
            }
            return n
        }
        guard chars.count >= 19, chars[4] == UInt8(ascii: "-"), chars[7] == UInt8(ascii: "-"),
            chars[10] == UInt8(ascii: " ") || chars[10] == UInt8(ascii: "T"),
            chars[13] == UInt8(ascii: ":"), chars[16] == UInt8(ascii: ":"),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        var index = 19
        var micros = 0
        if index < chars.count && chars[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < chars.count, chars[index] >= 48, chars[index] <= 57 {
                if digits < 6 { micros = micros * 10 + Int(chars[index] - 48) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 6) { micros *= 10 }
        }
        var offsetSeconds: Int?
        let rest = chars[index...].filter { $0 != UInt8(ascii: " ") }
        if rest.isEmpty {
            offsetSeconds = nil
        } else if rest == Array("Z".utf8) || rest == Array("UTC".utf8) {
            offsetSeconds = 0
        } else if rest.first == UInt8(ascii: "+") || rest.first == UInt8(ascii: "-") {
            let sign = rest.first == UInt8(ascii: "-") ? -1 : 1
            let digits = Array(rest.dropFirst().filter { $0 != UInt8(ascii: ":") })
            guard digits.count == 2 || digits.count == 4, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            let hh = Int(digits[0] - 48) * 10 + Int(digits[1] - 48)
            let mm = digits.count == 4 ? Int(digits[2] - 48) * 10 + Int(digits[3] - 48) : 0
            guard hh <= 15, mm < 60 else { return nil }
            offsetSeconds = sign * (hh * 3600 + mm * 60)
        } else {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        parts.tm_isdst = -1
        let epoch: Int
        if let offsetSeconds {
            epoch = Int(timegm(&parts)) - offsetSeconds
        } else {
            epoch = Int(mktime(&parts))
        }
        // Reject dates that do not exist (31 February): the normalised fields would differ.
        guard parts.tm_mday == Int32(day), parts.tm_mon == Int32(month - 1) else { return nil }
        return Int64(epoch) * 1_000_000 + Int64(micros)
    }

    /// UTC with an explicit offset, as written into recovery_target_time so PostgreSQL cannot
    /// read it in another time zone.
    public static func formatUTC(_ micros: Int64) -> String { UTCCalendar(micros: micros).postgresText }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
