import WalvaultKit
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The restart archive_mode and wal_level need. A cluster systemd manages is restarted through
/// systemd, or systemd would see its server vanish and the new one as a stranger; any other
/// through its own pg_ctl, as the cluster's owner (pg_ctl refuses root).
public struct ClusterRestart {
    public let cluster: DiscoveredCluster
    /// Where a server restarted by pg_ctl writes its log: pg_ctl's own output is not kept.
    public let logFile: String

    public init(cluster: DiscoveredCluster, logFile: String) {
        self.cluster = cluster
        self.logFile = logFile
    }

    /// The command an owner runs by hand, in the message that says a restart is needed.
    public var command: String {
        if let unit = cluster.systemdUnit { return "systemctl restart \(unit)" }
        let pgCtl = "/usr/lib/postgresql/\(cluster.majorVersion)/bin/pg_ctl"
        return "\(ProcessIdentity.isRoot ? "runuser -u \(cluster.owner.name) -- " : "")\(pgCtl) -D \(cluster.pgdata) -l \(logFile) -m fast -w restart"
    }

    public func restart() throws {
        let output = try CapturedOutput()
        let executable: String
        let arguments: [String]
        if let unit = cluster.systemdUnit {
            guard ProcessIdentity.isRoot else {
                throw CommandError(problem: "restarting \(unit) needs root", fix: "run \(command) as root, or run init as root with --restart")
            }
            executable = "/usr/bin/systemctl"
            arguments = ["restart", unit]
        } else {
            let pgCtl = try PostgresPrograms(explicitDirectory: nil, major: cluster.majorVersion).path(of: "pg_ctl")
            let pgCtlArguments = ["-D", cluster.pgdata, "-l", logFile, "-m", "fast", "-w", "-t", "300", "restart"]
            if ProcessIdentity.isRoot && cluster.owner.uid != 0 {
                executable = "/usr/bin/setpriv"
                arguments = ["--reuid=\(cluster.owner.uid)", "--regid=\(cluster.owner.gid)", "--init-groups", "--", pgCtl] + pgCtlArguments
            } else {
                executable = pgCtl
                arguments = pgCtlArguments
            }
        }
        let child = try ChildProcess.spawn(executable, arguments, input: .devNull, output: .descriptor(output.file.raw), error: nil)
        let status = try ChildProcess.wait(child, executable: executable)
        guard status == 0 else {
            let said = output.line()
            throw CommandError(
                problem: "\(command) failed (exit \(status))\(said.isEmpty ? "" : ": \(said)")",
                fix: cluster.systemdUnit.map { "journalctl -u \($0) says why" } ?? "\(logFile) says why")
        }
    }
}
