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

    /// Where relative paths a person gives are read from.
    public static var currentDirectory: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
