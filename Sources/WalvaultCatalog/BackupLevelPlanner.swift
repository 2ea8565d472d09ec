/// Which level a backup takes and which backup it builds on, decided without I/O from the complete
/// backups the stores hold. `--type` asks; the rules can still answer full, and say why:
/// - a diff or incr needs a prior with block maps (format 2) of the same cluster;
/// - `max_chain` is never exceeded, asked or not;
/// - without `--type`, a full when the newest full is older than `full_every_days`, else an incr.
public enum BackupLevelPlanner {
    public struct Candidate: Equatable, Sendable {
        public let label: String
        public let level: BackupLevel
        public let prior: String?
        public let stopTime: Int64
        public let format: Int
        public let systemIdentifier: String
        /// Every backup its restore reads parts of.
        public let references: [String]
        public init(
            label: String, level: BackupLevel, prior: String?, stopTime: Int64, format: Int, systemIdentifier: String, references: [String]
        ) {
            self.label = label
            self.level = level
            self.prior = prior
            self.stopTime = stopTime
            self.format = format
            self.systemIdentifier = systemIdentifier
            self.references = references
        }

        public init(_ manifest: BackupManifest) {
            self.init(
                label: manifest.label, level: manifest.type, prior: manifest.prior, stopTime: manifest.stopTime, format: manifest.format,
                systemIdentifier: manifest.systemIdentifier, references: manifest.chain)
        }
    }

    public struct Decision: Equatable, Sendable {
        public let level: BackupLevel
        public let prior: String?
        /// One sentence: why this level (and prior).
        public let reason: String
        /// Backups from the full to this one, this one included.
        public let chainLength: Int

        public init(level: BackupLevel, prior: String?, reason: String, chainLength: Int) {
            self.level = level
            self.prior = prior
            self.reason = reason
            self.chainLength = chainLength
        }
    }

    public static func decide(
        requested: BackupLevel?, candidates: [Candidate], systemIdentifier: String, fullEveryDays: Int, maxChain: Int, now: Int64
    ) -> Decision {
        let byLabel = Dictionary(candidates.map { ($0.label, $0) }, uniquingKeysWith: { a, _ in a })
        // A usable prior: block maps, this cluster, and every backup its restore needs still complete.
        let usable = candidates.filter { candidate in
            candidate.format >= 2 && candidate.systemIdentifier == systemIdentifier
                && candidate.references.allSatisfy { byLabel[$0] != nil } && chainLength(of: candidate, in: byLabel) != nil
        }.sorted { ($0.stopTime, $0.label) > ($1.stopTime, $1.label) }
        if requested == .full { return Decision(level: .full, prior: nil, reason: "--type full was asked for", chainLength: 1) }
        guard let newest = usable.first, let newestFull = usable.first(where: { $0.level == .full }) else {
            let why =
                candidates.isEmpty
                ? "there is no earlier complete backup to build on"
                : "no earlier complete backup of this cluster has block maps (walvault 0.2 or later) with its whole chain present"
            return Decision(
                level: .full, prior: nil, reason: why + (requested.map { " (--type \($0.rawValue) was asked for)" } ?? ""), chainLength: 1)
        }
        let level = requested ?? .incr
        let prior = level == .diff ? newestFull : newest
        let length = (chainLength(of: prior, in: byLabel) ?? maxChain) + 1
        if length > maxChain {
            return Decision(
                level: .full, prior: nil,
                reason:
                    "a \(level.rawValue) on \(prior.label) would make a chain of \(length) backups from full \(newestFull.label); [backup] max_chain is \(maxChain)",
                chainLength: 1)
        }
        let age = now - newestFull.stopTime
        let limit = Int64(fullEveryDays) * 86_400_000_000
        if requested == nil, age > limit {
            return Decision(
                level: .full, prior: nil,
                reason:
                    "the newest full, \(newestFull.label), is \(age / 86_400_000_000) days old; [backup] full_every_days is \(fullEveryDays)",
                chainLength: 1)
        }
        let why =
            requested == nil
            ? "an incr on the newest backup, \(prior.label) (\(prior.level.rawValue)); backup \(length) of \(maxChain) in the chain from full \(newestFull.label)"
            : "--type \(level.rawValue) was asked for: changes since \(prior.label) (\(prior.level.rawValue))"
        return Decision(level: level, prior: prior.label, reason: why, chainLength: length)
    }

    /// Backups from the full to this one, following priors; nil when a prior is missing or loops.
    public static func chainLength(of candidate: Candidate, in byLabel: [String: Candidate]) -> Int? {
        var length = 1
        var current = candidate
        while current.level != .full {
            guard let label = current.prior, let prior = byLabel[label], length <= byLabel.count else { return nil }
            length += 1
            current = prior
        }
        return length
    }
}
