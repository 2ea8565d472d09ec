import WalvaultKit
import WalvaultPolicy

extension HealthCheck {
    /// `walvault check --json`. Here, not beside the verdicts: the policy module imports nothing.
    public static func json(_ checks: [HealthCheck]) throws -> String { try ReportJSON.encode(["checks": checks]) }
}
