import WalvaultConfig
import WalvaultPostgres

/// What `walvault expire` does to the history (migration 0002): rows of objects no longer in a
/// store get `expired_at`, and `expires_at` of what stays says when it is due to go.
public enum HistoryExpiry {
    /// Brings one store's rows in line with what it holds after an expire run, in one
    /// transaction. A reconciliation rather than a record of each deletion: a run killed between
    /// deletions, or one that could not reach the database, leaves rows the next run marks; and
    /// the rows of an object deleted by hand are marked too.
    /// - Parameters:
    ///   - present: backup labels and WAL segment names the store still holds (what expire keeps).
    ///   - due: when each of them is due to go (µs).
    ///   - before: the moment expire read the store; rows written later (a segment archive-push
    ///     stored meanwhile) are not judged.
    /// - Parameter logsManaged: whether log exports expire too (`[retention] logs_days`).
    public static func reconcile(
        present: Set<String>, due: [String: Int64], before: Int64, store: String, cluster: String,
        settings: HistorySettings, db: PostgresConnection, logsManaged: Bool = false
    ) throws {
        // Labels, segment names, dump IDs (`schema/time`): never ',' '{' '"' or a space.
        func array(_ names: some Sequence<String>) -> String { "{" + names.sorted().joined(separator: ",") + "}" }
        try db.query("BEGIN")
        do {
            // Only what expire manages: backups (their rows name the label), schema dumps (their
            // ID), WAL segments, log exports (their ID) under logs_days, and files snapshots
            // (`<tree>/<id>`; their packs' ship rows are not judged).
            try db.query(
                """
                UPDATE control_plane.backups SET expired_at = now(), expires_at = NULL
                WHERE project_id = $1 AND store_name = $2 AND cluster_name = $3 AND status = 'succeeded' AND expired_at IS NULL
                  AND created_at < to_timestamp($4::bigint / 1000000.0)
                  AND ((type = 'database' AND operation IN ('backup', 'ship', 'dump')) OR object_name ~ '^[0-9A-F]{24}$'
                       OR ($6 AND type = 'logs' AND operation IN ('export-logs', 'ship'))
                       OR (type = 'storage' AND operation IN ('files-backup', 'ship') AND object_name LIKE '%/%'))
                  AND NOT (object_name = ANY($5::text[]))
                """, [settings.projectID, store, cluster, String(before), array(present), logsManaged ? "true" : "false"])
            let groups = Dictionary(grouping: due.keys, by: { due[$0]! })
            for (moment, names) in groups.sorted(by: { $0.key < $1.key }) {
                try db.query(
                    """
                    UPDATE control_plane.backups SET expires_at = to_timestamp($1::bigint / 1000000.0)
                    WHERE project_id = $2 AND store_name = $3 AND cluster_name = $4 AND object_name = ANY($5::text[])
                      AND status = 'succeeded' AND expired_at IS NULL
                      AND expires_at IS DISTINCT FROM to_timestamp($1::bigint / 1000000.0)
                    """, [String(moment), settings.projectID, store, cluster, array(names)])
            }
            try db.query("COMMIT")
        } catch {
            _ = try? db.query("ROLLBACK")
            throw error
        }
    }
}
