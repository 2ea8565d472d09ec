import WalvaultPostgres
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// PostgreSQL's own client programs (pg_dump, pg_restore, psql) of the server's major version:
/// pg_dump refuses a newer server, and an older pg_restore cannot read a newer dump, so a program
/// of another version is refused here with the package to install, not at the first byte.
package struct PostgresPrograms {
    /// The directory given with `--postgres-bin`, if any.
    package let explicitDirectory: String?
    package let major: Int

    package init(explicitDirectory: String?, major: Int) {
        self.explicitDirectory = explicitDirectory
        self.major = major
    }

    /// The program's path, after asking it its version.
    package func path(of program: String) throws -> String {
        let candidates: [String]
        if let explicitDirectory {
            candidates = [Paths.join(explicitDirectory, program)]
        } else {
            candidates =
                ["/usr/lib/postgresql/\(major)/bin/\(program)"]
                + (Environment.value("PATH") ?? "/usr/bin:/bin").split(separator: ":").map { Paths.join(String($0), program) }
        }
        var found: [(String, Int)] = []
        for candidate in candidates where access(candidate, X_OK) == 0 {
            let version = try Self.majorVersion(of: candidate)
            if version == major { return candidate }
            found.append((candidate, version ?? 0))
        }
        let seen = found.map { "\($0.0) is \($0.1 == 0 ? "of an unknown version" : "PostgreSQL \($0.1)")" }.joined(separator: ", ")
        let place = explicitDirectory.map { "in --postgres-bin \($0)" } ?? "in /usr/lib/postgresql/\(major)/bin or on PATH"
        throw CommandError(
            problem: "\(program) of PostgreSQL \(major) (the server's version) is not installed \(place)\(seen.isEmpty ? "" : ": " + seen)",
            fix: "install postgresql-client-\(major), or give the directory of its programs with --postgres-bin")
    }

    /// "pg_dump (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)" → 15.
    package static func majorVersion(of executable: String) throws -> Int? {
        let output = try CapturedOutput()
        let status = try ChildProcess.wait(
            try ChildProcess.spawn(executable, ["--version"], input: .devNull, output: .descriptor(output.file.raw), error: nil),
            executable: executable)
        guard status == 0 else { return nil }
        return parseMajor(output.line())
    }

    package static func parseMajor(_ text: String) -> Int? {
        guard let marker = text.split(separator: " ").firstIndex(of: "(PostgreSQL)") else { return nil }
        let words = text.split(separator: " ")
        guard marker + 1 < words.count else { return nil }
        return Int(words[marker + 1].split(separator: ".").first ?? "")
    }

    /// The environment a program connects with: the conninfo's settings as PG* variables (never
    /// on its command line, where every user can read a password), then this process's own.
    package static func environment(_ connection: ConnectionString, database: String?, application: String) -> [String] {
        let ours =
            connection.environment(database: database) + [
                "PGAPPNAME=\(application)", "PGCONNECT_TIMEOUT=\(connection.value("connect_timeout") ?? "10")"
            ]
        let names = Set(ours.map { String($0.prefix { $0 != "=" }) })
        var inherited: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if !names.contains(String(text.prefix { $0 != "=" })) { inherited.append(text) }
            entry += 1
        }
        return ours + inherited
    }

    /// As `posix_spawn` wants it; free with `release`.
    package static func cEnvironment(_ entries: [String]) -> [UnsafeMutablePointer<CChar>?] { entries.map { strdup($0) } + [nil] }
    package static func release(_ entries: [UnsafeMutablePointer<CChar>?]) { entries.forEach { free($0) } }
}
