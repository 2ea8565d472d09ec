/// Which backup a restore starts from. Pure: the caller lists the complete backups.
public enum BackupSelection {
    /// The newest complete backup that finished strictly before the target (or the named one,
    /// which must also finish before it).
    public static func choose(from backups: [BackupManifest], target: RecoveryTarget, label: String? = nil) throws -> BackupManifest {
        let sorted = backups.sorted { $0.stopTime < $1.stopTime }
        if let label {
            guard let named = sorted.first(where: { $0.label == label }) else {
                throw CatalogError(
                    problem: "there is no complete backup \"\(label)\"",
                    fix: sorted.isEmpty
                        ? "take one with walvault backup" : "choose one of: \(sorted.map(\.label).joined(separator: ", ")) (walvault info lists them)"
                )
            }
            if case .time(let t) = target, named.stopTime >= t {
                throw CatalogError(
                    problem:
                        "backup \(label) finished at \(RecoveryTarget.formatUTC(named.stopTime)), not before the target \(RecoveryTarget.formatUTC(t))",
                    fix: "choose an earlier backup or a later target")
            }
            return named
        }
        guard let newest = sorted.last else {
            throw CatalogError(
                problem: "the stores hold no complete backup of this cluster",
                fix: "take one with walvault backup; WAL alone cannot rebuild a cluster")
        }
        switch target {
        case .latest:
            return newest
        case .time(let t):
            guard let chosen = sorted.last(where: { $0.stopTime < t }) else {
                throw CatalogError(
                    problem:
                        "no backup finished before the target \(RecoveryTarget.formatUTC(t)); the oldest, \(sorted[0].label), finished at \(RecoveryTarget.formatUTC(sorted[0].stopTime))",
                    fix: "choose a target after that")
            }
            return chosen
        }
    }
}
