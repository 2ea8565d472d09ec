/// Which segments archive-push stores ahead of PostgreSQL's calls, from pg_wal/archive_status
/// alone. Pure; unit-tested.
public enum PushAheadPlan {
    /// The `.ready` WAL segments other than `current`, oldest first (the archiver's own order),
    /// at most `limit`. History, backup history and partial files are left to their own calls:
    /// they are few, and their checks read the cluster's pg_control.
    public static func segments(statusNames: [String], current: String, limit: Int) -> [String] {
        guard limit > 0 else { return [] }
        let ready = statusNames.compactMap { name -> String? in
            guard name.hasSuffix(".ready") else { return nil }
            let base = String(name.dropLast(".ready".count))
            guard case .segment? = WALFileName(base), base != current else { return nil }
            return base
        }
        return Array(ready.sorted().prefix(limit))
    }

    /// A status entry: `<segment>-<sha256>`, written once the segment is durable in every sync store.
    public static func statusName(segment: String, sha256: String) -> String { segment + "-" + sha256 }
}
