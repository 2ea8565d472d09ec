/// What an operation protects, as the history table's `type` column names it. It lives here, below
/// both the history and the operations, so that archive-push's events can name it without linking
/// the history layer.
public enum BackupType: String, Codable, Sendable { case database, storage, logs, wal }
