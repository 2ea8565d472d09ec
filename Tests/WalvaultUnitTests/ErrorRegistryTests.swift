import Testing
import WalvaultHTTP
import WalvaultPipeline
import WalvaultPostgres
import WalvaultStores
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultBackup
@testable import WalvaultKit

#if canImport(Glibc)
    import Glibc
#endif

/// One registry of codes: every code the sources give is in it (with an exit and an HTTP status),
/// and docs/troubleshooting.md is what it renders.
@Suite struct ErrorRegistryTests {
    static let root: String = {
        var path = #filePath
        for _ in 0..<3 { path = Paths.dirname(path) }
        return path
    }()

    /// The codes the error types compute.
    static var computedCodes: [String] {
        let errnos: [Int32] = [ENOENT, EACCES, ENOSPC, EROFS, EISDIR, EEXIST, EXDEV, EIO]
        var codes = errnos.map { SystemError("open", path: "/x", code: $0).errorCode }
        codes += [StoreError.Kind.notFound, .conflict, .transient, .permanent, .auth].map {
            StoreError(store: "s", kind: $0, problem: "p", fix: nil).errorCode
        }
        codes += [EncryptionError.wrongPassphraseOrDamaged("o", detail: "d"), .notEncrypted("o"), .encryptedWithoutKey("o"), .unsupported("o", "w")]
            .map(\.errorCode)
        codes += [HTTPError.Kind.transient, .permanent].map { "http.\($0.rawValue)" }
        codes += [
            "postgres.unreachable", "postgres.refused", OperationCancelled(step: "x").errorCode, ErrorCodes.of(CommandError(problem: "p", fix: "f"))
        ]
        return codes
    }

    /// The codes written as literals in the sources (`errorCode: "…"`, `errorCode: String { "…" }`, `code: "…"`).
    static var literalCodes: Set<String> {
        var found: Set<String> = []
        var stack = [Paths.join(root, "Sources")]
        while let directory = stack.popLast() {
            for name in (try? FileSystem.listDirectory(directory)) ?? [] {
                let path = Paths.join(directory, name)
                if FileSystem.isDirectory(path) { stack.append(path); continue }
                guard name.hasSuffix(".swift"), let bytes = try? FileSystem.readSmallFile(path, limit: 1 << 22) else { continue }
                let text = String(decoding: bytes, as: UTF8.self)
                for marker in ["errorCode: \"", "errorCode: String { \"", "code: \""] {
                    var rest = Substring(text)
                    while let range = rest.range(of: marker) {
                        rest = rest[range.upperBound...]
                        if let end = rest.firstIndex(of: "\"") { found.insert(String(rest[..<end])) }
                    }
                }
            }
        }
        return found.filter { $0.contains(".") && $0 == $0.lowercased() && !$0.contains(" ") }
    }

    @Test func everyCodeTheSourcesGiveIsRegistered() {
        let registered = Set(ErrorRegistry.entries.map(\.code))
        #expect(registered.count == ErrorRegistry.entries.count, "each code once")
        for code in Self.computedCodes { #expect(registered.contains(code), "\(code) is not in ErrorRegistry") }
        let literals = Self.literalCodes
        #expect(literals.contains("input.invalid") && literals.contains("drill.failed"), "the scan finds the sources' codes: \(literals.sorted())")
        for code in literals { #expect(registered.contains(code), "\(code) is not in ErrorRegistry") }
    }

    @Test func exitStatusesFollowTheCode() {
        #expect(ErrorRegistry.exitStatus(of: OperationCancelled(step: "copying")) == 130)
        #expect(ErrorRegistry.exitStatus(of: CommandError(problem: "p", fix: "f")) == 1)
        #expect(ErrorRegistry.exitStatus(of: BackupFailure(underlying: OperationCancelled(step: "x"), cleanup: "removed")) == 130)
        struct Uncoded: Error {}
        #expect(ErrorRegistry.exitStatus(of: Uncoded()) == 1)
        #expect(ErrorRegistry.entry("store.transient").httpStatus == 503)
        #expect(ErrorRegistry.entry("no.such_code").code == "internal")
    }

    /// A command's sentence around a lower error keeps that error's code: a full disk is
    /// system.no_space in history and alerts, not command.refused.
    @Test func aCommandErrorKeepsItsCausesCode() {
        let full = CommandError(
            cause: SystemError("write", path: "/pgdata/base/1/1259", code: ENOSPC), problem: "cannot write /pgdata/base/1/1259",
            fix: "free space")
        #expect(full.errorCode == "system.no_space")
        #expect(full.cause is SystemError)
        #expect(ErrorRegistry.exitStatus(of: full) == 1)
        struct Uncoded: Error {}
        #expect(CommandError(cause: Uncoded(), problem: "p", fix: "f").errorCode == "command.refused")
        #expect(CommandError(problem: "p", fix: "f").errorCode == "command.refused")
    }

    @Test func theTroubleshootingPageIsTheRegistryRendered() throws {
        let path = Paths.join(Self.root, "docs/troubleshooting.md")
        let rendered = ErrorRegistry.markdown()
        if Environment.value("WALVAULT_REGENERATE_DOCS") == "1" { try FileSystem.writeAtomically(path, contents: Array(rendered.utf8), mode: 0o644) }
        let onDisk = String(decoding: try FileSystem.readSmallFile(path), as: UTF8.self)
        #expect(onDisk == rendered, "docs/troubleshooting.md is stale: WALVAULT_REGENERATE_DOCS=1 swift test --filter ErrorRegistryTests")
    }
}
