import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

public struct DecryptReport: Equatable {
    public let bytes: Int
    public let compression: CompressionAlgorithm
    /// The SHA-256 from the object's name, when it had one, which the output matched.
    public let verifiedSHA256: String?

    /// What the user must be told about output that could not be checked; nil when it was, or
    /// when the object is one walvault stores plain (an info file, a manifest).
    public var uncheckedWarning: String? = nil
}

/// Manual recovery: one stored object (copied out of a store by hand) back to its original
/// bytes, without walvault having to reach the store. The object's name, when given, says
/// how it was compressed and what its plaintext hashes to.
public struct Decrypt {
    public let context: WalvaultContext

    public init(context: WalvaultContext) { self.context = context }

    /// - Parameters:
    ///   - input: a stored object's path; nil reads standard input.
    ///   - output: where to write; nil writes standard output. An existing file is never replaced.
    ///   - compression: overrides what the input's name says; without a name, nil means "none".
    public func run(input: String?, output: String?, compression: CompressionAlgorithm?) throws -> DecryptReport {
        guard let keyRing = context.keyRing else {
            throw CommandError(
                problem: "walvault decrypt needs the passphrase, and \(context.config.path) has no [encryption]",
                fix: "add [encryption] with passphrase_file or passphrase_env")
        }
        // What a name says: how the object was compressed, and the checksum of the original bytes.
        let name: (compression: CompressionAlgorithm, sha256: String)? = input.flatMap { path in
            let base = Paths.basename(path)
            if let stored = StoredObjectName(base) { return (stored.compression, stored.sha256) }
            if let export = ExportObjectName(base) { return (export.compression, export.sha256) }
            return nil
        }
        let storedPlain = input.map { ArchiveLayout.plainObjectNames.contains(Paths.basename($0)) } ?? false
        let algorithm = compression ?? name?.compression ?? .none
        // The name's checksum is of the original bytes: it can be checked only if they are what comes out.
        let expectedSHA256 = name.flatMap { $0.compression == algorithm ? $0.sha256 : nil }
        let source: FileDescriptor
        do {
            source = try input.map(FileDescriptor.openRegularFile) ?? FileDescriptor(raw: dup(0), path: "standard input")
        } catch let error as SystemError {
            throw CommandError(cause: error, problem: "cannot read --in \(input ?? "standard input"): \(error.reason)", fix: error.hint ?? "")
        }
        if let input, name == nil, !storedPlain, compression == nil {
            // What it is comes first: a plaintext file is explained as such, whatever its name.
            var magic = [UInt8](repeating: 0, count: EncryptionHeader.magic.count)
            let got = (try? magic.withUnsafeMutableBytes { try source.pread(into: $0, at: 0) }) ?? 0
            guard EncryptionHeader.hasMagic(magic[0..<got]) else { throw Self.notEncrypted(input) }
            throw CommandError(
                problem:
                    "\(input): its name is not a stored object's (<original name>-<sha256>[.zst|.lz4|.gz]), so how it was compressed and what it must hash to are unknown",
                fix: "give it back its name from the store, or pass --compression zstd|lz4|gzip|none to decrypt it without a check")
        }
        if let output, FileSystem.exists(output) {
            throw CommandError(problem: "\(output) already exists", fix: "remove it or choose another --out; walvault never overwrites a file")
        }
        let target = try output.map { try StagedFile(destination: $0) }
        let sink: ByteSink = target.map { FileSink(file: $0.file) } ?? FileSink(file: FileDescriptor(raw: dup(1), path: "standard output"))
        let hashing = HashingStage(next: sink)
        let reader = DecryptingReader(object: input ?? "standard input", keyRing: keyRing, source: source.read(into:))
        do {
            try StreamPump.pump(reading: reader.read(into:), into: try Compression.decompressor(algorithm, next: hashing))
        } catch let error as EncryptionError where error.kind == .notEncrypted {
            throw Self.notEncrypted(input ?? "standard input")
        } catch let error as PipelineError {
            throw CommandError(
                cause: error, problem: "\(input ?? "standard input") decrypted, but it is not \(algorithm.rawValue) data (\(error))",
                fix: "give the right --compression, or none to get the decrypted bytes as they are")
        } catch let error as SystemError where error.path == source.path {
            throw CommandError(cause: error, problem: "cannot read --in \(source.path): \(error.reason)", fix: error.hint ?? "")
        } catch let error as SystemError {
            throw CommandError(cause: error, problem: "cannot write \(output ?? "standard output"): \(error.reason)", fix: error.hint ?? "")
        }
        if let expectedSHA256, hashing.hexDigest != expectedSHA256 {
            throw CommandError(
                problem:
                    "\(input!) decrypted, but its content fails the checksum in its name (sha256 \(hashing.hexDigest!.prefix(12))…, expected \(expectedSHA256.prefix(12))…)",
                fix: "the object was renamed or damaged before encryption; use another store's copy")
        }
        try target?.placeWithoutReplacing()
        var report = DecryptReport(bytes: hashing.byteCount, compression: algorithm, verifiedSHA256: expectedSHA256)
        if expectedSHA256 == nil && !(storedPlain && algorithm == .none) {
            report.uncheckedWarning =
                algorithm == .none
                ? "the output was decrypted but neither decompressed nor checked: if the object was compressed, it still is (give --compression)"
                : "the output was decrypted and decompressed (\(algorithm.rawValue)) but not checked: no checksum is known for it"
        }
        return report
    }

    package static func notEncrypted(_ input: String) -> CommandError {
        CommandError(
            problem: "\(input) is not a walvault-encrypted object (it does not begin with the WALVAULT header)",
            fix: "nothing to decrypt: an object stored without encryption is read with the tool its extension names (zstd -d, lz4 -d, gzip -d)")
    }
}
