import Glibc
import Testing
import WalvaultPolicy
import WalvaultTesting

/// The pure calendar against libc's gmtime and strftime, over four centuries, every day once.
@Suite struct UTCCalendarTests {
    static func libc(_ seconds: Int) -> (tm, String) {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S +0000", &parts)
        return (parts, String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    @Test func everyDayFrom1900To2300MatchesGmtime() {
        var mismatches: [String] = []
        let first = -2_208_988_800  // 1900-01-01
        let last = 10_413_792_000  // 2300-01-01
        var seconds = first
        var step = 0
        while seconds < last {
            // A different time of day each day, seconds and all.
            let at = seconds + (step * 7_919) % 86_400
            let (parts, rfc) = Self.libc(at)
            let calendar = UTCCalendar(micros: Int64(at) * 1_000_000)
            if calendar.year != Int(parts.tm_year) + 1900 || calendar.month != Int(parts.tm_mon) + 1 || calendar.day != Int(parts.tm_mday)
                || calendar.hour != Int(parts.tm_hour) || calendar.minute != Int(parts.tm_min) || calendar.second != Int(parts.tm_sec)
                || calendar.weekday != Int(parts.tm_wday) || calendar.rfc5322Text != rfc
            {
                mismatches.append("\(at): \(calendar) vs \(rfc)")
            }
            seconds += 86_400
            step += 1
        }
        #expect(step > 146_000)
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    @Test func postgresTextKeepsMicrosecondsAndFloorsBeforeTheEpoch() {
        #expect(UTCCalendar(micros: 0).postgresText == "1970-01-01 00:00:00+00")
        #expect(UTCCalendar(micros: 1_796_361_294_000_001).postgresText == "2026-12-04 05:14:54.000001+00")
        #expect(UTCCalendar(micros: 951_782_400_000_000).postgresText == "2000-02-29 00:00:00+00")
        // One microsecond before the epoch is the last microsecond of 1969, not 1970-01-01 minus.
        #expect(UTCCalendar(micros: -1).postgresText == "1969-12-31 23:59:59.999999+00")
        #expect(UTCCalendar(micros: -1).weekday == 3)
    }
}
