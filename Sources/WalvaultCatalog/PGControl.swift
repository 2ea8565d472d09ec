import WalvaultSystem

/// The one field of pg_control walvault needs: the system identifier is its first 8 bytes
/// in every PostgreSQL version, so no version-specific layout is involved.
public enum PGControl {
    public static func systemIdentifier(pgdata: String) throws -> UInt64 {
        let path = Paths.join(pgdata, "global/pg_control")
        let file = try FileDescriptor.openForReading(path)
        var bytes = [UInt8](repeating: 0, count: 8)
        let n = try bytes.withUnsafeMutableBytes { try file.pread(into: $0, at: 0) }
        guard n == 8 else { throw SystemError("read (file is too short)", path: path, code: 5) }
        return bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    }
}
