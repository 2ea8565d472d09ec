import WalvaultKit
import WalvaultPolicy
import WalvaultSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The findings of the newest `walvault check` (cron's, the CLI's or the dashboard's), kept
/// beside the job status files so the overview shows them without running every probe again.
public struct LastCheck: Codable, Equatable, Sendable {
    /// Microseconds since the epoch.
    public let at: Int64
    public let checks: [HealthCheck]

    public init(at: Int64, checks: [HealthCheck]) {
        self.at = at
        self.checks = checks
    }

    public var ok: Bool { checks.allSatisfy(\.ok) }

    /// `<spool>/last-check-<cluster>.json`, or beside the cluster lock without a spool.
    public static func path(context: WalvaultContext) -> String {
        Paths.join(Paths.dirname(context.jobStatusDirectory.path), "last-check-\(context.config.cluster.name).json")
    }

    public func save(context: WalvaultContext) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try FileSystem.writeAtomically(Self.path(context: context), contents: Array(try encoder.encode(self)) + [10], mode: 0o600)
    }

    /// nil when no check has run yet, or its file cannot be read.
    public static func load(context: WalvaultContext) -> LastCheck? {
        guard let bytes = try? FileSystem.readSmallFile(path(context: context), limit: 1 << 20) else { return nil }
        return try? JSONDecoder().decode(LastCheck.self, from: Data(bytes))
    }
}
