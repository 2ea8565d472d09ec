import WalvaultPipeline
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Reads the passphrase from where [encryption] points, straight into wiped memory.
public enum Passphrase {
    /// Passphrase files are read up to this size: a passphrase, not a key file.
    static let maxLength = 4096

    /// - Returns: the passphrase and warnings to print (a file readable by others).
    public static func load(_ settings: EncryptionSettings, configPath: String) throws -> (SecretBytes, [String]) {
        switch settings.passphrase {
        case .file(let path): return try fromFile(path, configPath: configPath)
        case .environment(let name): return (try fromEnvironment(name, configPath: configPath), [])
        }
    }

    static func fromFile(_ path: String, configPath: String) throws -> (SecretBytes, [String]) {
        let key = "encryption.passphrase_file"
        let buffer: SecretBytes
        var length: Int
        let mode: UInt32
        do {
            (buffer, length, mode) = try SecretFile.read(path, limit: maxLength)
        } catch .cannotOpen(let error) {
            throw ConfigError(
                file: configPath, key: key, problem: "cannot read the passphrase file \(path): \(error.reason)",
                fix: "create it holding the passphrase, owned by the user running walvault (the postgres user for archive_command), mode 600")
        } catch .notRegular {
            throw ConfigError(
                file: configPath, key: key, problem: "\(path) is not a regular file", fix: "point passphrase_file at the file holding the passphrase")
        } catch .cannotRead(let error) {
            throw ConfigError(
                file: configPath, key: key, problem: "cannot read the passphrase file \(path): \(error.reason)",
                fix: "check the disk and the file's permissions")
        } catch .tooLong {
            throw ConfigError(
                file: configPath, key: key, problem: "\(path) is longer than \(maxLength) bytes", fix: "it should hold only the passphrase")
        }
        // One trailing newline is what editors and `echo` add; it is not part of the passphrase.
        length = buffer.withUnsafeBytes { bytes in
            var n = length
            if n > 0, bytes[n - 1] == UInt8(ascii: "\n") { n -= 1 }
            if n > 0, bytes[n - 1] == UInt8(ascii: "\r") { n -= 1 }
            return n
        }
        guard length > 0 else {
            throw ConfigError(
                file: configPath, key: key, problem: "the passphrase file \(path) is empty", fix: "write the passphrase into it (one line)")
        }
        var warnings: [String] = []
        if mode & 0o077 != 0 {
            warnings.append("the passphrase file \(path) is readable by group or others (mode \(String(mode, radix: 8))); run chmod 600 \(path)")
        }
        return (buffer.prefix(length), warnings)
    }

    /// Copies the variable, then wipes and removes it from this process's environment.
    static func fromEnvironment(_ name: String, configPath: String) throws -> SecretBytes {
        guard let raw = getenv(name), raw.pointee != 0 else {
            throw ConfigError(
                file: configPath, key: "encryption.passphrase_env", problem: "the environment variable \(name) is not set or empty",
                fix: "set it for the process running walvault (for archive_command: in the PostgreSQL service's environment), or use passphrase_file")
        }
        let length = strlen(raw)
        let secret = SecretBytes(copying: UnsafeRawBufferPointer(start: raw, count: length))
        memset(raw, 0, length)
        unsetenv(name)
        return secret
    }
}
