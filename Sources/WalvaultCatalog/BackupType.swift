/// What an operation protects, as the history table's `type` column names it. It lives here, below
/// both the history and the operations, so that archive-push's events can name it without linking
/// the history layer. `audit` protects nothing: it is an owner's action in the dashboard that stores
/// nothing of its own (a login, a cancel, a verify, a deletion), kept for who did it and from where.
public enum BackupType: String, Codable, Sendable { case database, storage, logs, wal, audit }
