import WalvaultPostgres

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Reads `control_plane.backups` for `walvault history`.
public enum HistoryQuery {
    public static let columns = [
        "created_at", "type", "operation", "status", "object_name", "store_name", "size", "stored_size",
        "sha256", "file_id", "duration_ms", "expires_at", "error", "schema_name", "row_count", "range_start", "range_end", "rows_deleted",
        "actor", "origin", "error_code"
    ]

    /// A page of this project's rows matching every filter given (nil: any); oldest first, or
    /// newest first for the dashboard's pages. The database pages, so a page costs its rows only.
    public struct Filter: Sendable, Equatable {
        public var type: String?
        public var since: String?
        public var status: String?
        public var operation: String?
        public var store: String?
        /// A WAL file, a backup label, a dump's id.
        public var objectName: String?
        /// A store's handle for the object (a Telegram file_id).
        public var fileID: String?
        public var limit: Int?
        public var offset = 0
        public var newestFirst = false

        public init(
            type: String? = nil, since: String? = nil, status: String? = nil, operation: String? = nil, store: String? = nil,
            limit: Int? = nil, offset: Int = 0, newestFirst: Bool = false
        ) {
            self.type = type
            self.since = since
            self.status = status
            self.operation = operation
            self.store = store
            self.limit = limit
            self.offset = offset
            self.newestFirst = newestFirst
        }
    }

    public static func rows(_ db: PostgresConnection, projectID: String, type: String?, since: String?) throws -> [[String: String]] {
        try rows(db, projectID: projectID, filter: Filter(type: type, since: since))
    }

    public static func rows(_ db: PostgresConnection, projectID: String, filter: Filter) throws -> [[String: String]] {
        let result = try db.query(
            """
            SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00', type::text, operation, status::text,
                   object_name, store_name, size::text, stored_size::text, sha256, file_id, duration_ms::text,
                   to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') , error, schema_name, row_count::text,
                   to_char(range_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00', to_char(range_end AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00',
                   rows_deleted::text, actor, origin, error_code
            FROM control_plane.backups
            WHERE project_id = $1 AND ($2::text IS NULL OR type::text = $2) AND ($3::timestamptz IS NULL OR created_at >= $3::timestamptz)
              AND ($4::text IS NULL OR status::text = $4) AND ($5::text IS NULL OR operation = $5) AND ($6::text IS NULL OR store_name = $6)
              AND ($9::text IS NULL OR object_name = $9) AND ($10::text IS NULL OR file_id = $10)
            ORDER BY \(filter.newestFirst ? "created_at DESC, id DESC" : "created_at, id")
            LIMIT $7::bigint OFFSET $8::bigint
            """,
            [
                projectID, filter.type, filter.since, filter.status, filter.operation, filter.store, filter.limit.map(String.init),
                String(filter.offset), filter.objectName, filter.fileID
            ])
        return result.map { row in
            var out: [String: String] = [:]
            for (name, value) in zip(columns, row) { if let value { out[name] = value } }
            return out
        }
    }

    /// How many of this project's `operation` runs of `type` since `since` (µs) succeeded and
    /// failed: one run is one row per outcome, whatever the stores (a backup writes a row per store).
    public static func outcomes(
        _ db: PostgresConnection, projectID: String, type: String, operation: String, since: Int64
    ) throws -> (succeeded: Int, failed: Int) {
        let row = try db.query(
            """
            SELECT count(DISTINCT object_name) FILTER (WHERE status = 'succeeded')::text,
                   count(*) FILTER (WHERE status <> 'succeeded')::text
            FROM control_plane.backups
            WHERE project_id = $1 AND type::text = $2 AND operation = $3 AND created_at >= to_timestamp($4::bigint / 1e6)
            """, [projectID, type, operation, String(since)]
        ).first
        return (Int(row?[0] ?? "") ?? 0, Int(row?[1] ?? "") ?? 0)
    }

    public static func json(_ rows: [[String: String]]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(rows), as: UTF8.self)
    }

    public static func text(_ rows: [[String: String]]) -> String {
        guard !rows.isEmpty else { return "no history rows" }
        return rows.map { r in
            var line = "\(r["created_at"] ?? "")  \(r["type"] ?? "") \(r["operation"] ?? "") \(r["status"] ?? "")  \(r["object_name"] ?? "-")"
            if let store = r["store_name"] { line += "  \(store)" }
            if let size = r["size"] { line += "  \(size) bytes" }
            if let stored = r["stored_size"] { line += " (\(stored) stored)" }
            if let rows = r["row_count"] { line += "  \(rows) rows" }
            if let deleted = r["rows_deleted"] { line += ", \(deleted) deleted" }
            if let error = r["error"] { line += "  error: \(error)" }
            return line
        }.joined(separator: "\n")
    }
}
