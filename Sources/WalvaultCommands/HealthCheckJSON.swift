#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import WalvaultPolicy

extension HealthCheck {
    /// `walvault check --json`. Here, not beside the verdicts: the policy module imports nothing.
    public static func json(_ checks: [HealthCheck]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(["checks": checks]), as: UTF8.self)
    }
}
