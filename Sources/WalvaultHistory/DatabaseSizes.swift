import WalvaultPostgres

/// `control_plane.database_sizes`: the database's size over time, for the growth chart.
public enum DatabaseSizes {
    public struct Row: Equatable, Sendable {
        /// µs since the epoch.
        public let at: Int64
        public let bytes: Int64
        public let tables: Int
        public let rowEstimate: Int64

        public init(at: Int64, bytes: Int64, tables: Int, rowEstimate: Int64) {
            self.at = at
            self.bytes = bytes
            self.tables = tables
            self.rowEstimate = rowEstimate
        }
    }

    public static func record(_ db: PostgresConnection, projectID: String, _ row: Row) throws {
        try db.query(
            """
            INSERT INTO control_plane.database_sizes (project_id, sampled_at, bytes, tables, row_estimate)
            VALUES ($1, to_timestamp($2::bigint / 1e6), $3::bigint, $4::integer, $5::bigint)
            ON CONFLICT (project_id, sampled_at) DO NOTHING
            """, [projectID, String(row.at), String(row.bytes), String(row.tables), String(row.rowEstimate)])
    }

    /// This project's samples since `since` (µs), oldest first.
    public static func read(_ db: PostgresConnection, projectID: String, since: Int64) throws -> [Row] {
        try db.query(
            """
            SELECT (extract(epoch FROM sampled_at) * 1e6)::bigint::text, bytes::text, tables::text, row_estimate::text
            FROM control_plane.database_sizes
            WHERE project_id = $1 AND sampled_at >= to_timestamp($2::bigint / 1e6)
            ORDER BY sampled_at
            """, [projectID, String(since)]
        ).compactMap { row in
            guard let at = Int64(row[0] ?? ""), let bytes = Int64(row[1] ?? ""), let tables = Int(row[2] ?? ""), let estimate = Int64(row[3] ?? "")
            else { return nil }
            return Row(at: at, bytes: bytes, tables: tables, rowEstimate: estimate)
        }
    }
}
