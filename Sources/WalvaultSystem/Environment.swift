#if canImport(Glibc)
    import Glibc
#endif

public enum Environment {
    public static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }

    /// Where unnamed scratch files go (block maps, S3 upload spills): `TMPDIR`, else /tmp.
    public static var temporaryDirectory: String { value("TMPDIR") ?? "/tmp" }
}
