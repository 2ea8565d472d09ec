/// A UTC time broken into calendar fields by arithmetic alone, so that the decisions and messages in
/// this module can print times without gmtime (which is I/O-free, but lives in libc, which this
/// module does not import). The day count uses the proleptic Gregorian calendar, valid for every
/// year a backup can carry; `UTCCalendarTests` checks it against gmtime across four centuries.
public struct UTCCalendar: Equatable, Sendable {
    public let year: Int
    /// 1...12
    public let month: Int
    public let day: Int
    public let hour: Int
    public let minute: Int
    public let second: Int
    /// 0 = Sunday, as `tm_wday`.
    public let weekday: Int
    /// 0..<1_000_000
    public let microsecond: Int

    public init(micros: Int64) {
        let (seconds, fraction) = Self.floorDivMod(micros, 1_000_000)
        let (days, secondOfDay) = Self.floorDivMod(seconds, 86_400)
        hour = Int(secondOfDay / 3600)
        minute = Int(secondOfDay % 3600 / 60)
        second = Int(secondOfDay % 60)
        microsecond = Int(fraction)
        weekday = Int(Self.floorDivMod(days + 4, 7).1)  // 1970-01-01 was a Thursday
        // Days since 1970-01-01 to a civil date, counted in 400-year eras of 146,097 days from
        // 0000-03-01, so that the leap day is the last day of each era-year.
        let shifted = days + 719_468
        let era = Self.floorDivMod(shifted, 146_097).0
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153  // 0 = March
        day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        year = Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0)
    }

    /// `2026-12-04T05:14:54.123456Z`: RFC 3339 with microseconds, the `time` of a JSON log line.
    public var rfc3339Text: String {
        "\(Self.pad(year, 4))-\(Self.pad(month, 2))-\(Self.pad(day, 2))T\(Self.pad(hour, 2)):\(Self.pad(minute, 2)):\(Self.pad(second, 2)).\(Self.pad(microsecond, 6))Z"
    }

    /// `2026-12-04 05:14:54+00`, with `.ffffff` when the time has microseconds: PostgreSQL's
    /// `recovery_target_time` form, and the one every message of walvault prints.
    public var postgresText: String {
        let base = "\(Self.pad(year, 4))-\(Self.pad(month, 2))-\(Self.pad(day, 2)) \(Self.pad(hour, 2)):\(Self.pad(minute, 2)):\(Self.pad(second, 2))"
        return base + (microsecond == 0 ? "" : "." + Self.pad(microsecond, 6)) + "+00"
    }

    /// `Fri, 04 Dec 2026 05:14:54 +0000`, for an e-mail's Date header (RFC 5322).
    public var rfc5322Text: String {
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return
            "\(days[weekday]), \(Self.pad(day, 2)) \(months[month - 1]) \(year) \(Self.pad(hour, 2)):\(Self.pad(minute, 2)):\(Self.pad(second, 2)) +0000"
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    static func floorDivMod(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let quotient = value / divisor
        let remainder = value % divisor
        return remainder < 0 ? (quotient - 1, remainder + divisor) : (quotient, remainder)
    }
}
