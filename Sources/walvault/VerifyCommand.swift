#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Synchronization
import WalvaultCommands
import WalvaultSystem

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Read every stored object back and check it, and check that the stores hold everything a restore needs.",
        discussion: "Decrypts and decompresses every object and checks its SHA-256 against its name; WAL segments also by size and page header; each backup's manifest and copy, its parts, and every file against the manifest; WAL continuity from each backup's start to the newest segment on every timeline; duplicates, objects nothing uses, and objects one store holds that another should. One line per problem (store, object, what is wrong); exit 1 when there is any. Progress on stderr when it is a terminal.")

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Verify only this store; give it again for more than one.", valueName: "name"))
    var store: [String] = []

    @Option(help: ArgumentHelp("Verify only this backup and the WAL it needs.", valueName: "label"))
    var backup: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let context = try global.loadContext(for: "verify")
        let report: VerifyReport
        do {
            let workers = max(1, min(4, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
            report = try Verify(context: context, storeNames: store, backupLabel: backup, workers: workers)
                .run(progress: isatty(2) != 0 ? ProgressLine().update : nil)
            if isatty(2) != 0 { ProgressLine.clear() }
        } catch {
            Output.fail("verify", "\(error)")
            throw ExitCode(ExitCodes.failure)
        }
        if json {
            do { print(try report.json()) } catch { Output.fail("verify", "\(error)") }
        } else {
            for line in report.lines { print(line.split(whereSeparator: \.isNewline).joined(separator: " ")) }
        }
        if !report.ok { throw ExitCode(ExitCodes.failure) }
    }
}

/// "objects, MB, MB/s, ETA" rewritten in place on a terminal, at most a few times a second.
final class ProgressLine: Sendable {
    private let last = Mutex<Double>(-1)

    @Sendable func update(_ p: VerifyProgress) {
        let due = last.withLock { last -> Bool in
            guard p.seconds - last >= 0.25 || p.objects == p.totalObjects else { return false }
            last = p.seconds
            return true
        }
        guard due else { return }
        let rate = p.seconds > 0 ? Double(p.bytes) / 1_000_000 / p.seconds : 0
        let eta = rate > 0 ? Double(p.totalBytes - p.bytes) / 1_000_000 / rate : 0
        let text = "\r\u{1B}[Kverify: \(p.objects)/\(p.totalObjects) objects, \(String(format1: Double(p.bytes) / 1_000_000))/\(String(format1: Double(p.totalBytes) / 1_000_000)) MB, \(String(format1: rate)) MB/s, ETA \(Int(eta.rounded())) s"
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    static func clear() {
        let bytes = Array("\r\u{1B}[K".utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
