import WalvaultBackup
import WalvaultKit

/// `walvault backup`: a full base backup; then the shipper for async stores and expire.
public struct BackupOperation: WalvaultOperation {
    public var walTimeoutSeconds: Double = 300
    /// `--no-expire`.
    public var expire = true

    public init(walTimeoutSeconds: Double = 300, expire: Bool = true) {
        self.walTimeoutSeconds = walTimeoutSeconds
        self.expire = expire
    }

    public var kind: OperationKind { .backup }
    public var lifecycle: Lifecycle { Lifecycle(alertCondition: "backup", expiresAfter: expire, checksBackupAge: true) }

    public func run(_ job: JobContext) throws -> BackupReport {
        var backup = Backup(context: job.context)
        backup.walTimeoutSeconds = walTimeoutSeconds
        return try backup.run(events: job)
    }

    public func queuedFor(_ output: BackupReport) -> [String] { output.queuedFor }
}
