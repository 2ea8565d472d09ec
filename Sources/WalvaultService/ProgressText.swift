import WalvaultKit
import WalvaultSystem

/// The words of live progress, restic-style, apart from the terminal so they can be tested:
/// `[0:12] backup copy 43 %  120/812 files  880.0/2048.0 MB  95.2 MB/s  ETA 0:15`.
public enum ProgressText {
    /// - Parameters:
    ///   - elapsed: seconds since the job started (the bracket).
    ///   - phaseSeconds: seconds since this phase began (the rate and the ETA).
    public static func line(_ operation: OperationKind, _ report: ProgressReport, elapsed: Double, phaseSeconds: Double) -> String {
        var parts = ["[\(clock(elapsed))] \(operation.rawValue) \(report.phase)"]
        if let percent = report.percent { parts[0] += " \(percent) %" }
        if let filesTotal = report.filesTotal {
            parts.append("\(report.filesDone ?? 0)/\(filesTotal) \(report.countedItems)")
        }
        switch report.unit {
        case .bytes:
            parts.append("\(megabytes(report.done))" + (report.total.map { "/\(megabytes($0))" } ?? "") + " MB")
            let rate = phaseSeconds > 0 ? Double(report.done) / 1_000_000 / phaseSeconds : 0
            parts.append("\(String(format1: rate)) MB/s")
            if let total = report.total, rate > 0, report.done < total {
                parts.append("ETA \(clock(Double(total - report.done) / 1_000_000 / rate))")
            }
        case .files, .objects, .parts:
            if report.filesTotal == nil { parts.append("\(report.done)" + (report.total.map { "/\($0)" } ?? "") + " \(report.unit.rawValue)") }
        }
        return parts.joined(separator: "  ")
    }

    /// Without a terminal, the one line a phase gets when it starts: what it will do.
    public static func phaseLine(_ report: ProgressReport) -> String {
        var size: [String] = []
        if let filesTotal = report.filesTotal { size.append("\(filesTotal) \(report.countedItems)") }
        if let total = report.total {
            size.append(report.unit == .bytes ? "\(megabytes(total)) MB" : (report.filesTotal == nil ? "\(total) \(report.unit.rawValue)" : ""))
        }
        let what = size.filter { !$0.isEmpty }.joined(separator: ", ")
        return "phase \(report.phase)" + (what.isEmpty ? "" : ": \(what)")
    }

    /// m:ss, or h:mm:ss from an hour.
    public static func clock(_ seconds: Double) -> String {
        let total = Int(max(0, seconds.isFinite ? seconds : 0).rounded())
        let (h, m, s) = (total / 3600, total / 60 % 60, total % 60)
        return h > 0 ? "\(h):\(UTCTime.pad(m, 2)):\(UTCTime.pad(s, 2))" : "\(m):\(UTCTime.pad(s, 2))"
    }

    static func megabytes(_ bytes: Int64) -> String { String(format1: Double(bytes) / 1_000_000) }
}
