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
