import ArgumentParser
import WalvaultArchive
import WalvaultConfig
import WalvaultKit

/// The background worker archive-get starts; not for people (hidden from --help).
struct PrefetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefetch",
        abstract: "Fetch the segments after the one PostgreSQL asked for into the spool (started by archive-get).",
        shouldDisplay: false)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("system-identifier"), help: ArgumentHelp("The recovering cluster's system identifier.", valueName: "id"))
    var systemIdentifier: UInt64

    func run() throws {
        let context = try global.loadContext(for: "prefetch")
        guard let root = try context.trustedSpool, context.config.performance.prefetch > 0 else { return }
        let spool = PrefetchSpool(spool: root, cluster: context.config.cluster.name, systemIdentifier: systemIdentifier)
        do {
            let fetched = try Prefetcher(context: context, spool: spool, systemIdentifier: systemIdentifier).run()
            if global.verbose { Output.info("prefetch", "\(fetched) segments fetched ahead") }
        } catch {
            Output.fail("prefetch", error)
            throw ExitCode(ExitCodes.failure)
        }
    }
}
