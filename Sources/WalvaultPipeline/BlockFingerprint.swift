#if canImport(Glibc)
    import Glibc
#endif

/// XXH3-64 of a block, from libxxhash: what tells a changed page from an unchanged one when a diff
/// or incr compares a relation file with its prior's block map. SHA-256 already covers each byte
/// once, for the file's checksum; a second cryptographic pass per block would double the hashing,
/// while XXH3 runs at memory speed. A changed page that kept its fingerprint would go unnoticed
/// with odds of 2^-64, and restore's whole-file SHA-256 check would still refuse the result.
///
/// libxxhash is loaded on first use, as libpq is: archive-push never fingerprints blocks.
public enum BlockFingerprint {
    private typealias XXH3 = @convention(c) (UnsafeRawPointer?, Int) -> UInt64

    private static let function: Result<XXH3, PipelineError> = {
        guard let handle = dlopen("libxxhash.so.0", RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown error"
            return .failure(PipelineError(stage: "xxhash", "cannot load libxxhash (\(why)); install it: apt-get install libxxhash0"))
        }
        guard let symbol = dlsym(handle, "XXH3_64bits") else {
            return .failure(PipelineError(stage: "xxhash", "libxxhash.so.0 has no XXH3_64bits; install xxhash 0.8 or later"))
        }
        return .success(unsafeBitCast(symbol, to: XXH3.self))
    }()

    /// Fails once, with the fix, when libxxhash cannot be loaded.
    public static func check() throws { _ = try function.get() }

    public static func of(_ bytes: UnsafeRawBufferPointer) throws -> UInt64 {
        try function.get()(bytes.baseAddress, bytes.count)
    }
}
