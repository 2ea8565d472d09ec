import WalvaultSystem

/// Backup labels are the UTC moment the backup started, `YYYYMMDDTHHMMSSZ`, with `-N` added
/// when two start in the same second; so even a backup without a manifest tells its age.
public enum BackupLabel {
    /// The start time (µs since the epoch) a label names, or nil for a label walvault did not make.
    public static func startTime(_ label: String) -> Int64? {
        let base = Array(label.prefix { $0 != "-" })
        guard base.count == 16, base[8] == "T", base[15] == "Z" else { return nil }
        let s = String(base)
        let text =
            "\(s.prefix(4))-\(s.dropFirst(4).prefix(2))-\(s.dropFirst(6).prefix(2)) \(s.dropFirst(9).prefix(2)):\(s.dropFirst(11).prefix(2)):\(s.dropFirst(13).prefix(2))+00"
        return RecoveryTarget.parseTime(text)
    }

    /// Whether `label` is one walvault makes (`YYYYMMDDTHHMMSSZ`, maybe `-N`): anything else never
    /// reaches a store's key, where a `/` or `..` would name another object.
    public static func isValid(_ label: String) -> Bool {
        guard startTime(label) != nil,
            label.utf8.allSatisfy({
                $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "T") || $0 == UInt8(ascii: "Z") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
            })
        else { return false }
        let parts = label.split(separator: "-", omittingEmptySubsequences: false)
        return parts.count == 1
            || (parts.count == 2 && !parts[1].isEmpty && parts[1].utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
    }

    /// The label for a backup starting at `micros` (the server's clock).
    public static func make(_ micros: Int64) -> String {
        UTCTime.compact(micros)
    }

    /// "3 h", "2 d": how old something that started at `start` is at `now`.
    public static func age(from start: Int64, to now: Int64) -> String {
        let seconds = max(0, (now - start) / 1_000_000)
        switch seconds {
        case ..<120: return "\(seconds) s"
        case ..<7200: return "\(seconds / 60) min"
        case ..<172_800: return "\(seconds / 3600) h"
        default: return "\(seconds / 86_400) d"
        }
    }
}
