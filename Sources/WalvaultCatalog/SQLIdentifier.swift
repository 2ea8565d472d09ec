import WalvaultSystem

/// The only schema, table and column names walvault puts into SQL or hands to pg_dump:
/// `^[a-z_][a-z0-9_]{0,62}$`. A name that needs quoting (spaces, quotes, a semicolon, capitals,
/// look-alike letters from other alphabets) or that PostgreSQL would truncate (64 bytes or more)
/// is refused here, before any database sees it, so no caller has to think about quoting.
public enum SQLIdentifier {
    public static let maxLength = 63

    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= maxLength else { return false }
        guard first == UInt8(ascii: "_") || (first >= 97 && first <= 122) else { return false }
        return bytes.allSatisfy { $0 == UInt8(ascii: "_") || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }
    }

    /// - Parameters:
    ///   - what: "schema", "table", "column".
    ///   - option: the option or key it came from, named in the message.
    public static func check(_ name: String, what: String, option: String) throws -> String {
        guard isValid(name) else {
            let length = name.utf8.count
            let why =
                length > maxLength
                ? "is \(length) bytes long (PostgreSQL keeps \(maxLength))"
                : "is not a plain lower-case name (letters a-z, digits, underscores; not starting with a digit)"
            throw CatalogError(
                problem: "\(option) \(shown(name)): the \(what) name \(why)",
                fix: "give the \(what)'s name as it is in the catalog, e.g. tenant_acme; names that need quoting are not accepted",
                errorCode: "input.invalid")
        }
        return name
    }

    /// PostgreSQL's own schemas: `pg_catalog`, `pg_toast`, every other `pg_…` (reserved for the
    /// system: CREATE SCHEMA refuses the prefix) and `information_schema`. Their tables hold
    /// password hashes and the catalog itself; no dump, restore or export may touch them.
    public static func isSystemSchema(_ name: String) -> Bool {
        name == "information_schema" || name.hasPrefix("pg_")
    }

    /// `check`, and a system schema refused in one line.
    public static func checkUserSchema(_ name: String, option: String) throws -> String {
        let schema = try check(name, what: "schema", option: option)
        guard !isSystemSchema(schema) else {
            throw CatalogError(
                problem: "\(option) \(schema): \(schema) is a system schema of PostgreSQL, which walvault never dumps, restores into or replaces",
                fix: "name one of the application's own schemas, e.g. tenant_acme", errorCode: "input.invalid")
        }
        return schema
    }

    /// `check` for a table, refusing the `pg_…` names of system tables (pg_authid, pg_class):
    /// unqualified, they resolve to pg_catalog before any schema on the search path.
    public static func checkUserTable(_ name: String, option: String) throws -> String {
        let table = try check(name, what: "table", option: option)
        guard !table.hasPrefix("pg_") else {
            throw CatalogError(
                problem: "\(option) \(table): names starting with pg_ are PostgreSQL's system tables, which walvault never exports or deletes from",
                fix: "name the application's own table, e.g. project_logs", errorCode: "input.invalid")
        }
        return table
    }

    /// A name as a person can read it in one line: quoted, control characters and anything
    /// outside ASCII escaped (a Cyrillic "а" shows as \u{430}), cut at 80 characters.
    public static func shown(_ name: String) -> String {
        var out = "'"
        for scalar in name.unicodeScalars.prefix(80) {
            if scalar.value >= 32 && scalar.value < 127 && scalar != "'" && scalar != "\\" {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            }
        }
        return out + (name.unicodeScalars.count > 80 ? "…'" : "'")
    }
}
