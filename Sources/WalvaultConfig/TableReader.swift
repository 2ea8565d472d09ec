import TOMLKit

/// Reads one TOML table key by key and remembers which keys it used, so that anything
/// left over is reported as unknown instead of being silently ignored (a typo in a
/// setting must never fall back to a default quietly).
struct TableReader {
    let table: TOMLTable
    let file: String
    /// How this table is named in messages: "cluster", "stores #2".
    let place: String
    let knownKeys: [String]

    func key(_ name: String) -> String { "\(place).\(name)" }

    func string(_ name: String) throws -> String? {
        guard let value = table[name] else { return nil }
        guard let string = value.string else { throw typeError(name, expected: "a string", found: value.type) }
        return string
    }

    func requiredString(_ name: String, meaning: String) throws -> String {
        guard let value = try string(name), !value.isEmpty else {
            throw ConfigError(
                file: file, key: key(name), problem: "missing",
                fix: "set it to \(meaning)")
        }
        return value
    }

    func int(_ name: String) throws -> Int? {
        guard let value = table[name] else { return nil }
        guard let int = value.int else { throw typeError(name, expected: "an integer", found: value.type) }
        return int
    }

    /// A float or an integer (`price_per_gb_month = 5` and `= 0.006` both read).
    func number(_ name: String) throws -> Double? {
        guard let value = table[name] else { return nil }
        if let double = value.double { return double }
        guard let int = value.int else { throw typeError(name, expected: "a number", found: value.type) }
        return Double(int)
    }

    func bool(_ name: String) throws -> Bool? {
        guard let value = table[name] else { return nil }
        guard let bool = value.bool else { throw typeError(name, expected: "true or false", found: value.type) }
        return bool
    }

    /// - Parameter what: how the accepting table is named in the fix ("a local store").
    func rejectUnknownKeys(what: String? = nil) throws {
        for name in table.keys.sorted() where !knownKeys.contains(name) {
            throw ConfigError(
                file: file, key: key(name), problem: what.map { "unknown key for \($0)" } ?? "unknown key",
                fix:
                    "remove it or fix its spelling; \(what ?? "[\(place.split(separator: " ").first ?? "")]") accepts \(knownKeys.joined(separator: ", "))"
            )
        }
    }

    private func typeError(_ name: String, expected: String, found: TOMLType) -> ConfigError {
        ConfigError(
            file: file, key: key(name), problem: "expected \(expected), found \(found)",
            fix: "write it as \(expected)")
    }
}
