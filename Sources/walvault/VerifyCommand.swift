import ArgumentParser
import WalvaultKit
import WalvaultMaintenance
import WalvaultService
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Read every stored object back and check it, and check that the stores hold everything a restore needs.",
        discussion:
            "Decrypts and decompresses every object and checks its SHA-256 against its name; WAL segments also by size and page header; each backup's manifest and copy, its parts, and every file against the manifest; WAL continuity from each backup's start to the newest segment on every timeline; duplicates, objects nothing uses, and objects one store holds that another should. One line per problem (store, object, what is wrong); exit 1 when there is any. Progress on stderr when it is a terminal."
    )

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
            let outcome = global.run(
                VerifyOperation(storeNames: store, backupLabel: backup, workers: workers), command: "verify", context: context,
                notes: .hidden)
            if outcome.wasCancelled, case .failure(let error) = outcome.result {
                Output.fail("verify", error)
                throw ExitCode(ExitCodes.cancelled)
            }
            report = try outcome.result.get()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Output.fail("verify", error)
            throw ExitCode(ExitCodes.failure)
        }
        if json {
            do { print(try report.json()) } catch { Output.fail("verify", error) }
        } else {
            for line in report.lines { print(line.split(whereSeparator: \.isNewline).joined(separator: " ")) }
        }
        if !report.ok { throw ExitCode(ExitCodes.failure) }
    }
}
