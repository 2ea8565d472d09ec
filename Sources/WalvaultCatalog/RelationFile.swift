/// Which data-directory files are relation files: tables' and indexes' 8 KiB pages, the bulk of a
/// cluster, stored block by block in a diff or incr. Everything else (pg_xact, configs, maps) is
/// small and compared whole. `base/<db>/<relfilenode>[_fsm|_vm|_init][.<segment>]`, the same under
/// `global/` and `pg_tblspc/<oid>/<version dir>/<db>/`.
public enum RelationFile {
    public static func isRelation(_ relative: String) -> Bool {
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 2 where parts[0] == "global": return isRelationName(parts[1])
        case 3 where parts[0] == "base": return isDigits(parts[1]) && isRelationName(parts[2])
        case 5 where parts[0] == "pg_tblspc": return isDigits(parts[1]) && isDigits(parts[3]) && isRelationName(parts[4])
        default: return false
        }
    }

    static func isRelationName(_ name: Substring) -> Bool {
        var rest = name
        if let dot = rest.firstIndex(of: ".") {
            guard isDigits(rest[rest.index(after: dot)...]) else { return false }
            rest = rest[..<dot]
        }
        for fork in ["_fsm", "_vm", "_init"] where rest.hasSuffix(fork) {
            rest = rest.dropLast(fork.count)
            break
        }
        return isDigits(rest)
    }

    static func isDigits(_ text: Substring) -> Bool { !text.isEmpty && text.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }
}
