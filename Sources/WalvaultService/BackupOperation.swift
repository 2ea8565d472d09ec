import WalvaultBackup
import WalvaultCatalog
import WalvaultKit

/// `walvault backup`: a base backup (full, diff or incr, by `--type` or `[backup]`'s rules); then
/// the shipper for async stores and expire.
public struct BackupOperation: WalvaultOperation {
    public var walTimeoutSeconds: Double = 300
    /// `--no-expire`.
    public var expire = true
    /// `--type`; nil: `[backup]`'s rules choose.
    public var level: BackupLevel?

    public init(walTimeoutSeconds: Double = 300, expire: Bool = true, level: BackupLevel? = nil) {
        self.walTimeoutSeconds = walTimeoutSeconds
        self.expire = expire
        self.level = level
    }

    public var kind: OperationKind { .backup }
    public var lifecycle: Lifecycle { Lifecycle(alertCondition: "backup", expiresAfter: expire, checksBackupAge: true) }

    public func run(_ job: JobContext) throws -> BackupReport {
        var backup = Backup(context: job.context)
        backup.walTimeoutSeconds = walTimeoutSeconds
        backup.level = level
        return try backup.run(events: job)
    }

    public func queuedFor(_ output: BackupReport) -> [String] { output.queuedFor }
}
