import CShims

/// What `walvault --version` says and every backup manifest records: which walvault wrote it.
public enum BuildInfo {
    public static let version = "0.1.0"

    /// The git commit (12 hex digits), with "+changes" when built from a modified work tree.
    public static var commit: String { String(cString: wv_build_commit()) }

    /// "2026-12-04 14:30:00" (the build machine's clock), from the C compiler's "Dec  4 2026" and "14:30:00".
    public static var buildDate: String {
        let parts = String(cString: wv_build_date()).split(separator: " ")
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard parts.count == 3, let month = months.firstIndex(of: String(parts[0])), let day = Int(parts[1]) else {
            return String(cString: wv_build_date())
        }
        let twoDigits = { (n: Int) in n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts[2])-\(twoDigits(month + 1))-\(twoDigits(day)) \(String(cString: wv_build_time()))"
    }
}
