import ArgumentParser
import Hummingbird
import HummingbirdTLS
import WalvaultConfig
import WalvaultKit
import WalvaultServer
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `walvault-server`: the web stack in its own executable, so that archive-push never links it.
/// `walvault serve` and `walvault owner …` run this with the same arguments.
@main
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "walvault",
        abstract: "The owner's dashboard and HTTP API, and the owner's credentials.",
        subcommands: [ServeCommand.self, OwnerCommand.self])
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The config file (default: $WALVAULT_CONFIG, then /etc/walvault/walvault.toml).")
    var config: String?

    func dashboard(_ command: String) throws -> (WalvaultConfig, DashboardSettings) {
        do {
            let config = try ConfigLoader.load(path: ConfigLocation.resolve(explicit: self.config))
            guard let dashboard = config.dashboard else {
                throw CommandError(
                    problem: "\(config.path) has no [dashboard] section",
                    fix: "add [dashboard] with listen = \"127.0.0.1:8085\" (the defaults name /etc/walvault/owner.hash and owner.totp)",
                    errorCode: "config.invalid")
            }
            return (config, dashboard)
        } catch {
            fail(command, error)
        }
    }
}

func fail(_ command: String, _ error: any Error) -> Never {
    let line = "walvault \(command): error: \(error)".split(whereSeparator: \.isNewline).joined(separator: " ") + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(ErrorRegistry.exitStatus(of: error))
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the owner's dashboard and API where [dashboard] listen says.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let (_, dashboard) = try options.dashboard("serve")
        let server: DashboardServer
        let tls: TLSConfiguration?
        do {
            tls = try DashboardTLS.configuration(dashboard)
            var context = try WalvaultContext.load(configPath: ConfigLocation.resolve(explicit: options.config))
            if context.keyRing != nil { ProcessHardening.disableCoreDumps() }
            // Background workers (the shipper) are the CLI's, installed beside this executable:
            // "this executable" would start another server.
            context.launcher = BackgroundLauncher(executable: BackgroundLauncher.besideThisExecutable("walvault"))
            var hostTokens: HostApplicationTokens?
            if let path = dashboard.jwtPublicKeyFile { hostTokens = try await HostApplicationTokens.load(path: path) }
            server = DashboardServer(
                context: context, settings: dashboard, credentials: try OwnerCredentials.load(dashboard), hostTokens: hostTokens,
                metricsToken: try OwnerCredentials.metricsToken(dashboard),
                apiTokens: try APITokens.load(path: Paths.join(Paths.dirname(dashboard.ownerPasswordFile), "api-tokens.json")))
        } catch {
            fail("serve", error)
        }
        if !dashboard.listensOnLoopback && !dashboard.trustedProxy && tls == nil {
            let warning =
                "walvault serve: warning: listening on \(dashboard.host) without tls: passwords and sessions cross the network in clear; put a TLS proxy in front (trusted_proxy = true)\n"
            _ = warning.withCString { write(2, $0, strlen($0)) }
        }
        // Jobs a previous server (or any process) left running are interrupted: say so once, in
        // their status files and the history, before this server starts new ones.
        for job in ServerJobs.settleInterrupted(context: server.context) {
            let line =
                "walvault serve: job \(job.id) (\(job.operation.rawValue), started by \(job.actor)) was interrupted; marked so in the history\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
        }
        let sampler = Task { await server.sampleSizes() }
        defer { sampler.cancel() }
        try await server.application(tls: tls).runService()
    }
}

struct OwnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "owner", abstract: "Set the owner's password and second factor.",
        subcommands: [SetPasswordCommand.self, EnrollCommand.self])
}

struct SetPasswordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-password",
        abstract: "Store a bcrypt hash of the owner's password in owner_password_file (0600).",
        discussion: "Asks twice at a terminal; otherwise reads two lines from standard input.")

    @OptionGroup var options: ConfigOption

    func run() throws {
        let (_, dashboard) = try options.dashboard("owner set-password")
        guard let first = TerminalInput.secretLine(prompt: "new owner password: "), let second = TerminalInput.secretLine(prompt: "again: ") else {
            fail(
                "owner set-password",
                CommandError(
                    problem: "standard input ended before two lines", fix: "give the password twice, one per line", errorCode: "input.invalid"))
        }
        do {
            try OwnerEnrolment.setPassword(dashboard, first: first, second: second)
        } catch {
            fail("owner set-password", error)
        }
        print("walvault owner set-password: stored a bcrypt hash in \(dashboard.ownerPasswordFile)")
    }
}

struct EnrollCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll-2fa",
        abstract: "Write a new TOTP secret to totp_secret_file (0600) and print its otpauth:// URI.",
        discussion: "At a terminal it then asks for one code from the app, to confirm the enrolment.")

    @OptionGroup var options: ConfigOption

    func run() throws {
        let (_, dashboard) = try options.dashboard("owner enroll-2fa")
        let secret = OwnerEnrolment.newSecret()
        let check = TOTPCheck(secret: secret)
        let uri = check.authenticatorURI(label: "owner")
        // A provisioning script (no terminal): the secret is written and the URI printed, alone.
        guard isatty(0) == 1 else {
            save(secret, dashboard)
            print(uri)
            return
        }
        // A person: the QR code, then one code from the app before the old secret is replaced, so
        // a mistyped or unscanned enrolment leaves the working one in place.
        print(uri)
        if isatty(1) == 1, let lines = TerminalQRCode.lines(uri) {
            print("\nscan this with the authenticator app (or type the secret from the URI above):")
            lines.forEach { print($0) }
        }
        guard let code = TerminalInput.secretLine(prompt: "a code from the app, to confirm: "),
            case .accepted = check.check(code, atSecond: WallClock.nowMicros() / 1_000_000)
        else {
            fail(
                "owner enroll-2fa",
                CommandError(
                    problem: "that code does not match the new secret; \(dashboard.totpSecretFile) was not changed",
                    fix: "check the phone's clock and run walvault owner enroll-2fa again", errorCode: "input.invalid"))
        }
        save(secret, dashboard)
        print("walvault owner enroll-2fa: confirmed; the new secret is in \(dashboard.totpSecretFile)")
    }

    private func save(_ secret: String, _ dashboard: DashboardSettings) {
        do {
            try OwnerEnrolment.save(secret, dashboard)
        } catch {
            fail("owner enroll-2fa", error)
        }
    }
}
