/// What a logical export holds: a schema as pg_dump wrote it, or rows of a table.
public enum ExportFormat: String, CaseIterable, Sendable, Codable {
    /// pg_dump's custom format: compressed by pg_dump, restored with pg_restore.
    case custom
    /// SQL text from pg_dump.
    case plain
    /// One JSON object per row, as PostgreSQL's row_to_json writes it.
    case jsonl
    /// PostgreSQL's COPY CSV with a header line.
    case csv

    /// The extension in the object's name, before any compression extension.
    public var fileExtension: String {
        switch self {
        case .custom: return ".dump"
        case .plain: return ".sql"
        case .jsonl: return ".jsonl"
        case .csv: return ".csv"
        }
    }

    public var isDump: Bool { self == .custom || self == .plain }
}
