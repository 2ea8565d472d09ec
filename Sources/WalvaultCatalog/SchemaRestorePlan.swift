import WalvaultSystem

/// How `walvault dump restore` puts a dump of schema S into schema T inside one transaction
/// (psql --single-transaction around pg_restore's SQL), decided before anything runs. pg_restore
/// can only create S, so: whatever holds a name the restore needs is renamed first, and the
/// restored S is renamed to T after. Nothing is dropped: a replaced schema is kept aside under
/// a name that says when. Pure; unit-tested case by case.
public struct SchemaRestorePlan: Equatable, Sendable {
    /// The schema the dump creates.
    public let dumpSchema: String
    /// Where its contents end up.
    public let target: String
    /// The schema that held `target` before, renamed to this (only with `--replace`).
    public let aside: String?
    /// The live `dumpSchema` (when restoring into another name), renamed to this during the
    /// transaction and back after, so pg_restore can create `dumpSchema`.
    public let hold: String?
    /// Statements before pg_restore's SQL, and after it.
    public let before: [String]
    public let after: [String]

    public struct Refusal: Problem, Equatable, CustomStringConvertible {
        public let problem: String
        public let fix: String
        public var description: String { problem }
        public var errorCode: String { "input.invalid" }
    }

    /// Schemas a restore leaves behind, `<schema>_restored` and `<schema>_before_restore_<time>`:
    /// copies of a tenant, not tenants, so `dump --all-tenants` passes them over.
    public static func isLeftByRestore(_ schema: String) -> Bool {
        if schema.hasSuffix("_restored") { return true }
        guard let range = schema.ranges(of: "_before_restore_").last else { return false }
        let stamp = schema[range.upperBound...]
        return !stamp.isEmpty && stamp.allSatisfy { $0.isNumber || $0 == "_" }
    }

    /// - Parameters:
    ///   - into: `--into-schema`; nil: `<schema>_restored`, or the schema itself with `replace`.
    ///   - exists: whether a schema of that name is in the database now.
    ///   - stamp: when, as `YYYYMMDD_HHMMSS` (UTC), for the name of a schema set aside.
    ///   - holdName: a name no schema has (random), for the live schema while the restore runs.
    public static func make(
        dumpSchema: String, into: String?, replace: Bool, exists: (String) -> Bool,
        stamp: String, holdName: String
    ) -> Result<SchemaRestorePlan, Refusal> {
        let target = into ?? (replace ? dumpSchema : dumpSchema + "_restored")
        guard SQLIdentifier.isValid(target) else {
            return .failure(
                Refusal(
                    problem:
                        "the schema to restore into, \(SQLIdentifier.shown(target)), is not a valid name of at most \(SQLIdentifier.maxLength) bytes",
                    fix: "give one with --into-schema"))
        }
        var before: [String] = []
        var after: [String] = []
        var aside: String?
        if exists(target) {
            guard replace else {
                return .failure(
                    Refusal(
                        problem: "schema \(target) already exists",
                        fix: into == nil && !replace
                            ? "restore into another schema with --into-schema NAME, or replace it with --replace (it is kept aside, not dropped)"
                            : "add --replace to replace it (it is kept aside as \(target)_before_restore_<time>, not dropped), or choose another --into-schema"
                    ))
            }
            let suffix = "_before_restore_" + stamp
            let name = String(target.prefix(SQLIdentifier.maxLength - suffix.utf8.count)) + suffix
            guard !exists(name) else {
                return .failure(
                    Refusal(problem: "schema \(name), where \(target) would be kept aside, already exists", fix: "wait a second and run it again"))
            }
            aside = name
            before.append("ALTER SCHEMA \(target) RENAME TO \(name)")
        }
        var hold: String?
        if target != dumpSchema {
            if exists(dumpSchema) {
                hold = holdName
                before.append("ALTER SCHEMA \(dumpSchema) RENAME TO \(holdName)")
                after.append("ALTER SCHEMA \(dumpSchema) RENAME TO \(target)")
                after.append("ALTER SCHEMA \(holdName) RENAME TO \(dumpSchema)")
            } else {
                after.append("ALTER SCHEMA \(dumpSchema) RENAME TO \(target)")
            }
        }
        return .success(SchemaRestorePlan(dumpSchema: dumpSchema, target: target, aside: aside, hold: hold, before: before, after: after))
    }
}
