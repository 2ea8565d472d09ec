import ArgumentParser
import WalvaultKit
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `walvault serve` and `walvault owner …` run `walvault-server`, installed beside this executable:
/// the web stack (and bcrypt and TOTP) lives there, so archive-push never links it.
enum ServerExecutable {
    static func exec(_ command: String, _ arguments: [String], config: String?) -> Never {
        let server = BackgroundLauncher.besideThisExecutable("walvault-server")
        let all = [server] + arguments + (config.map { ["--config", FileSystem.realPath($0) ?? $0] } ?? [])
        var argv: [UnsafeMutablePointer<CChar>?] = all.map { strdup($0) } + [nil]
        execv(server, &argv)
        let reason = String(cString: strerror(errno))
        Output.fail(
            command,
            "cannot run \(server) (\(reason)); install it beside walvault (the Debian package does; from source: swift build -c release --product walvault-server)"
        )
        exit(ExitCodes.failure)
    }
}

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the owner's dashboard and HTTP API ([dashboard] in the config).")

    @OptionGroup var global: GlobalOptions

    func run() throws { ServerExecutable.exec("serve", ["serve"], config: global.config) }
}

struct OwnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "owner", abstract: "Set the owner's dashboard password (set-password) or second factor (enroll-2fa).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "set-password or enroll-2fa.")
    var action: String

    func validate() throws {
        guard ["set-password", "enroll-2fa"].contains(action) else {
            throw ValidationError("unknown action \"\(action)\": use set-password or enroll-2fa")
        }
    }

    func run() throws { ServerExecutable.exec("owner", ["owner", action], config: global.config) }
}
