import ArgumentParser
import WalvaultKit
import WalvaultMaintenance
import WalvaultPipeline

struct DecryptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decrypt",
        abstract: "Decrypt (and decompress) one stored object with the configured passphrase, for manual recovery.",
        discussion: """
            With --in, the object's name says how it was compressed and what its content hashes to, and the output is \
            checked against that. From standard input nothing is known: the output is the decrypted bytes unless \
            --compression is given. The format is described in docs/encryption.md.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("in"), help: ArgumentHelp("A stored object. Default: standard input.", valueName: "file"))
    var input: String?

    @Option(name: .customLong("out"), help: ArgumentHelp("Where to write; must not exist. Default: standard output.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("zstd, lz4, gzip or none; overrides what the object's name says.", valueName: "algorithm"))
    var compression: String?

    func validate() throws {
        if let compression, CompressionAlgorithm(rawValue: compression) == nil {
            throw ValidationError("--compression must be one of \(CompressionAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let context = try global.loadContext(for: "decrypt")
        do {
            let report = try Decrypt(context: context).run(
                input: input, output: output,
                compression: compression.flatMap(CompressionAlgorithm.init(rawValue:)))
            if let warning = report.uncheckedWarning { Output.warn("decrypt", warning) }
            if global.verbose {
                let check = report.verifiedSHA256.map { "sha256 \($0.prefix(12))… verified" } ?? "no checksum to verify"
                Output.info("decrypt", "\(report.bytes) bytes (\(report.compression.rawValue)), \(check)")
            }
        } catch {
            Output.fail("decrypt", error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}
