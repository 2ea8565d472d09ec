import WalvaultPipeline
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a store's credentials from where the config points, when the store is opened: never
/// from the config itself, never onto a command line. Secrets stay in wiped memory.
public enum StoreCredentials {
    static let maxLength = 4096

    /// - Parameter key: the config key naming the source, for messages ("stores #2.secret_access_key").
    /// The passphrase file's warning, for a secret kept in a file others can read.
    public static func permissionWarning(_ source: SecretSource, key: String) -> String? {
        guard case .file(let path) = source, let status = FileSystem.status(ifReadable: path), status.mode & 0o077 != 0 else { return nil }
        return "the secret file \(path) (\(key)_file) is readable by group or others (mode \(String(status.mode, radix: 8))); run chmod 600 \(path)"
    }

    /// - Parameter fileKey: whether `<key>_file` exists as the alternative to name (the SMTP login has only `_env`).
    public static func read(_ source: SecretSource, key: String, configPath: String, fileKey: Bool = true) throws -> SecretBytes {
        switch source {
        case .environment(let name):
            guard let raw = getenv(name), raw.pointee != 0 else {
                throw ConfigError(
                    file: configPath, key: key + "_env", problem: "the environment variable \(name) is not set or empty",
                    fix: "set it for the process running walvault (for archive_command: in the PostgreSQL service's environment)"
                        + (fileKey ? ", or use \(key.split(separator: ".").last.map(String.init) ?? key)_file" : ""))
            }
            // Not unset: `walvault ship`, started from archive-push, needs it too.
            return SecretBytes(copying: UnsafeRawBufferPointer(start: raw, count: strlen(raw)))
        case .file(let path):
            let buffer: SecretBytes
            var length: Int
            do {
                (buffer, length, _) = try SecretFile.read(path, limit: maxLength)
            } catch .cannotOpen(let error) {
                throw ConfigError(
                    file: configPath, key: key + "_file", problem: "cannot read \(path): \(error.reason)",
                    fix: "create it holding only the value, owned by the user running walvault, mode 600")
            } catch .notRegular {
                throw ConfigError(
                    file: configPath, key: key + "_file", problem: "\(path) is not a regular file", fix: "point it at the file holding the value")
            } catch .cannotRead(let error) {
                throw ConfigError(
                    file: configPath, key: key + "_file", problem: "cannot read \(path): \(error.reason)",
                    fix: "check the disk and the file's permissions")
            } catch .tooLong {
                throw ConfigError(
                    file: configPath, key: key + "_file", problem: "\(path) is longer than \(maxLength) bytes", fix: "it should hold only the value")
            }
            length = buffer.withUnsafeBytes { bytes in
                var n = length
                while n > 0, bytes[n - 1] == UInt8(ascii: "\n") || bytes[n - 1] == UInt8(ascii: "\r") || bytes[n - 1] == UInt8(ascii: " ") { n -= 1 }
                return n
            }
            guard length > 0 else {
                throw ConfigError(file: configPath, key: key + "_file", problem: "\(path) is empty", fix: "write the value into it (one line)")
            }
            return buffer.prefix(length)
        }
    }
}
