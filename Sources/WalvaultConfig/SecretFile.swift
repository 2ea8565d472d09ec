import WalvaultPipeline
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a small file holding a secret (a passphrase, an S3 key, a bot token) straight into wiped
/// memory: opened through symlinks (secrets mounts use them), a regular file, at most `limit`
/// bytes. Callers trim it and word the errors for their own config key.
enum SecretFile {
    enum Failure: Error {
        case cannotOpen(SystemError)
        case notRegular
        case cannotRead(SystemError)
        case tooLong
    }

    /// - Returns: the bytes read and the file's permission bits.
    static func read(_ path: String, limit: Int) throws(Failure) -> (bytes: SecretBytes, length: Int, mode: UInt32) {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.openForReading(path)
        } catch let error as SystemError {
            throw .cannotOpen(error)
        } catch {
            throw .cannotOpen(SystemError("open", path: path))
        }
        // fstat, not lstat: what counts is the file the link leads to.
        var status = stat()
        guard fstat(file.raw, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { throw .notRegular }
        let buffer = SecretBytes(count: limit + 1)
        let length: Int
        do {
            length = try buffer.withUnsafeMutableBytes { try file.readFully(into: $0) }
        } catch let error as SystemError {
            throw .cannotRead(error)
        } catch {
            throw .cannotRead(SystemError("read", path: path))
        }
        guard length <= limit else { throw .tooLong }
        return (buffer, length, UInt32(status.st_mode & 0o777))
    }
}
