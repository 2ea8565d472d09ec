/// Which base backup an archived object belongs with, for a store that deletes objects a group
/// at a time (a Telegram forum topic per backup): the backup's parts, and the WAL from its start
/// until the next backup's start, so a group holds what retention lets go together.
///
/// A backup still running has no manifest, so its start position is unknown: WAL stored after it
/// began goes with it. Erring that way is cheap (a segment from just before the start stays a
/// little longer, with the newer backup); the other way would keep the older backup's whole group
/// alive for a few segments that the newer one needs.
public enum ObjectGroupPlan {
    public struct Backup<Position: Comparable & Sendable>: Equatable, Sendable {
        public var label: String
        /// Where its WAL starts; nil while the backup runs (it has no manifest yet).
        public var start: Position?
        /// When it began (µs), from its label.
        public var startTime: Int64

        public init(label: String, start: Position?, startTime: Int64) {
            self.label = label
            self.start = start
            self.startTime = startTime
        }
    }

    /// The backup a WAL object at `position`, stored at `storedAt` (µs, when known), goes with; nil
    /// before the first backup.
    public static func owner<Position: Comparable & Sendable>(of position: Position, storedAt: Int64?, backups: [Backup<Position>]) -> String? {
        let newestCompleteStart = backups.compactMap(\.start).max()
        let claims = backups.filter { backup in
            if let start = backup.start { return start <= position }
            guard let storedAt, storedAt >= backup.startTime else { return false }
            return newestCompleteStart.map { position >= $0 } ?? true
        }
        return claims.max { ($0.startTime, $0.label) < ($1.startTime, $1.label) }?.label
    }
}
