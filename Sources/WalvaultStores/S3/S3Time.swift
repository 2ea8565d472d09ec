import WalvaultSystem

/// The two timestamp forms S3 answers with, as µs since the epoch (UTC). Fixed formats, read by
/// position (Glibc's strptime is not visible to Swift).
enum S3Time {
    /// `2026-11-24T13:41:50.123Z`, in listings.
    static func iso8601(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
            b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"), b.last == UInt8(ascii: "Z"),
            let year = number(b[0..<4]), let month = number(b[5..<7]), let day = number(b[8..<10]),
            let hour = number(b[11..<13]), let minute = number(b[14..<16]), let second = number(b[17..<19])
        else { return nil }
        var micros: Int64 = 0
        if b[19] == UInt8(ascii: ".") {
            let digits = b[20..<(b.count - 1)]
            guard !digits.isEmpty, let fraction = number(digits.prefix(6)) else { return nil }
            micros = Int64(fraction) * Int64([1, 100_000, 10_000, 1000, 100, 10, 1][min(digits.count, 6)])
        } else if b.count != 20 {
            return nil
        }
        return UTCTime.micros(year: year, month: month, day: day, hour: hour, minute: minute, second: second, fraction: Int(micros))
    }

    /// `Tue, 24 Nov 2026 13:41:50 GMT`, in Last-Modified headers.
    static func httpDate(_ text: String) -> Int64? {
        let fields = text.split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard fields.count == 6, fields[5] == "GMT", let day = Int(fields[1]), let monthIndex = months.firstIndex(of: String(fields[2])),
            let year = Int(fields[3])
        else { return nil }
        let clock = fields[4].split(separator: ":")
        guard clock.count == 3, let hour = Int(clock[0]), let minute = Int(clock[1]), let second = Int(clock[2]) else { return nil }
        return UTCTime.micros(year: year, month: monthIndex + 1, day: day, hour: hour, minute: minute, second: second)
    }

    private static func number(_ digits: some Collection<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return digits.reduce(0) { $0 * 10 + Int($1 - 48) }
    }
}
