/// What `walvault expire` does with schema dumps in one store: a dump older than the window goes,
/// except the newest dump of each schema, which stays whatever its age: a tenant dumped once,
/// 40 days ago, must not be left with nothing. Pure; unit-tested case by case.
public enum DumpExpiry {
    public struct Dump: Equatable, Hashable, Sendable {
        public let schema: String
        /// The dump's ID (`<schema>/<time stamp>`), unique per store.
        public let id: String
        /// µs since the epoch, when pg_dump started.
        public let time: Int64

        public init(schema: String, id: String, time: Int64) {
            self.schema = schema
            self.id = id
            self.time = time
        }
    }

    public struct Decision: Equatable, Sendable {
        public let dump: Dump
        public let keep: Bool
        public let reason: String
    }

    public static func plan(_ dumps: [Dump], days: Int, now: Int64) -> [Decision] {
        let windowStart = now - Int64(days) * 86_400_000_000
        let newest = Dictionary(grouping: dumps, by: \.schema).mapValues { $0.max { ($0.time, $0.id) < ($1.time, $1.id) }! }
        return dumps.sorted { ($0.schema, $0.time, $0.id) < ($1.schema, $1.time, $1.id) }.map { dump in
            if dump.time >= windowStart {
                return Decision(dump: dump, keep: true, reason: "inside the \(days)-day window")
            }
            if newest[dump.schema] == dump {
                return Decision(dump: dump, keep: true, reason: "the newest dump of \(dump.schema), kept whatever its age")
            }
            return Decision(dump: dump, keep: false, reason: "older than \(days) days, and a newer dump of \(dump.schema) exists")
        }
    }

    /// When each kept dump goes under the same rule (nil: never while it is the newest), for the
    /// history's `expires_at`: its time plus the window, once a newer dump of its schema exists.
    public static func due(_ dumps: [Dump], days: Int) -> [String: Int64] {
        let newest = Dictionary(grouping: dumps, by: \.schema).mapValues { $0.max { ($0.time, $0.id) < ($1.time, $1.id) }! }
        var due: [String: Int64] = [:]
        for dump in dumps where newest[dump.schema] != dump {
            due[dump.id] = dump.time + Int64(days) * 86_400_000_000
        }
        return due
    }
}

/// What `walvault expire` does with log exports in one store under `[retention] logs_days`: an
/// export holds rows that may have been deleted from the database when it was made, so it is
/// kept for `days` after that, and goes after. Pure; unit-tested case by case.
public enum LogExportExpiry {
    public struct Export: Equatable, Hashable, Sendable {
        public let id: String
        /// µs since the epoch, when the export (and any deletion of its rows) ran.
        public let time: Int64

        public init(id: String, time: Int64) {
            self.id = id
            self.time = time
        }
    }

    public static func plan(_ exports: [Export], days: Int, now: Int64) -> [(export: Export, keep: Bool, reason: String)] {
        let windowStart = now - Int64(days) * 86_400_000_000
        return exports.sorted { ($0.time, $0.id) < ($1.time, $1.id) }.map { export in
            export.time >= windowStart
                ? (export, true, "inside logs_days = \(days)")
                : (export, false, "older than logs_days = \(days): its rows were exported (and any deletion made) more than \(days) days ago")
        }
    }

    /// When each export goes, for the history's `expires_at`.
    public static func due(_ exports: [Export], days: Int) -> [String: Int64] {
        Dictionary(uniqueKeysWithValues: exports.map { ($0.id, $0.time + Int64(days) * 86_400_000_000) })
    }
}
