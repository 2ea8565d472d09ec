/// What `walvault verify` concludes from what each store lists, without reading a byte: gaps in
/// the WAL a backup needs, different contents under one name, objects nothing uses, and objects
/// one store holds that another should. Reading each object back is the command's job; what
/// the listings mean is decided here, so every rule is unit-tested without a store.
public enum ArchiveAudit {
    public struct Backup: Equatable, Sendable {
        public let label: String
        public let timeline: UInt32
        public let startLSN: LSN
        public let stopLSN: LSN
        public let stopTime: Int64
        public let parts: [String]
        public init(label: String, timeline: UInt32, startLSN: LSN, stopLSN: LSN, stopTime: Int64, parts: [String]) {
            self.label = label
            self.timeline = timeline
            self.startLSN = startLSN
            self.stopLSN = stopLSN
            self.stopTime = stopTime
            self.parts = parts
        }
    }

    /// One store's listing, reduced to what the rules need.
    public struct Holdings: Equatable, Sendable {
        public var store: String
        /// Every archived WAL file (segment, partial, history, backup history) by its original
        /// name, with the SHA-256 of each stored object of that name (two objects: two entries).
        public var walFiles: [String: [String]]
        /// Complete backups (a readable manifest).
        public var backups: [Backup]
        /// Original names and backup labels queued for this store and not shipped yet.
        public var queued: Set<String>
        public init(store: String, walFiles: [String: [String]] = [:], backups: [Backup] = [], queued: Set<String> = []) {
            self.store = store
            self.walFiles = walFiles
            self.backups = backups
            self.queued = queued
        }

        var segments: Set<WALSegmentName> {
            Set(walFiles.keys.compactMap { if case .segment(let s)? = WALFileName($0) { return s } else { return nil } })
        }
    }

    public struct Finding: Codable, Equatable, Hashable, Sendable {
        public let store: String
        /// An original WAL name, a backup label, or an object key.
        public let object: String
        public let problem: String
        public init(store: String, object: String, problem: String) {
            self.store = store
            self.object = object
            self.problem = problem
        }
    }

    /// Problems make verify fail; notes are said and do not (identical copies after a race, WAL
    /// from before every backup that only expire's next run removes).
    public struct Findings: Equatable, Sendable {
        public var problems: [Finding] = []
        public var notes: [Finding] = []
    }

    public static func audit(_ holdings: [Holdings], histories: [UInt32: TimelineHistory], segmentSize: Int) -> Findings {
        var findings = Findings()
        for store in holdings {
            findings.problems += gaps(in: store, histories: histories, segmentSize: segmentSize)
            let duplicates = duplicates(in: store)
            findings.problems += duplicates.problems
            findings.notes += duplicates.notes
            findings.notes += unused(in: store, segmentSize: segmentSize)
        }
        findings.problems += missingAcrossStores(holdings, segmentSize: segmentSize)
        return findings
    }

    /// Every segment a restore from each backup needs to reach the newest WAL of every timeline
    /// that branched off the backup's timeline after it became consistent: from the backup's
    /// start, along each timeline's history, to the newest segment archived on the last one (at
    /// least to the backup's stop). Each missing run is reported once, naming a backup it stops; a
    /// segment still queued for the store is not missing.
    public static func gaps(in store: Holdings, histories: [UInt32: TimelineHistory], segmentSize: Int) -> [Finding] {
        let archived = store.segments
        var newest: [UInt32: UInt64] = [:]
        for segment in archived { newest[segment.timeline] = max(newest[segment.timeline] ?? 0, segment.segmentNumber(segmentSize: segmentSize)) }
        var missing: [WALSegmentName: String] = [:]
        for backup in store.backups.sorted(by: { $0.label < $1.label }) {
            var targets: [UInt32] = [backup.timeline]
            for (timeline, history) in histories where timeline > backup.timeline {
                if let point = history.switchPoint(leaving: backup.timeline), point >= backup.stopLSN { targets.append(timeline) }
            }
            for target in targets {
                var legs: [(timeline: UInt32, from: UInt64, through: UInt64?)] = []
                var from = backup.startLSN.segmentNumber(segmentSize: segmentSize)
                if target != backup.timeline, let path = histories[target]?.path,
                    let start = path.firstIndex(where: { $0.timeline == backup.timeline })
                {
                    for step in path[start...] {
                        guard let switchPoint = step.end else { break }
                        // The segment holding the switch point is read from the new timeline.
                        let end = switchPoint.segmentNumber(segmentSize: segmentSize)
                        legs.append((step.timeline, from, end == 0 ? nil : end - 1))
                        from = end
                    }
                }
                if target == backup.timeline {
                    let stop = backup.stopLSN.previousByteSegmentNumber(segmentSize: segmentSize)
                    legs.append((target, from, max(newest[target] ?? stop, stop)))
                } else {
                    // A timeline whose first segment is not complete yet has nothing archived to check.
                    legs.append((target, from, newest[target]))
                }
                for leg in legs {
                    guard let through = leg.through, leg.from <= through else { continue }
                    for number in leg.from...through {
                        let segment = WALSegmentName(timeline: leg.timeline, segmentNumber: number, segmentSize: segmentSize)
                        // Still queued for this store: on its way (the shipper may finish a later one first), not missing.
                        if !archived.contains(segment), !store.queued.contains(segment.description), missing[segment] == nil {
                            missing[segment] = backup.label
                        }
                    }
                }
            }
        }
        return WALRuns.runs(missing.keys, segmentSize: segmentSize).map { run in
            let first = WALSegmentName(run.first)!
            let what = run.segments == 1 ? "segment \(run.first) is missing" : "\(run.segments) segments \(run.first) to \(run.last) are missing"
            return Finding(
                store: store.store, object: run.first,
                problem: "gap: \(what); backup \(missing[first]!) cannot be replayed past it from this store")
        }
    }

    /// One name, several objects: different contents is a problem (which one is PostgreSQL's?);
    /// identical copies come from two archivers racing and are harmless.
    public static func duplicates(in store: Holdings) -> Findings {
        var findings = Findings()
        for (name, checksums) in store.walFiles.sorted(by: { $0.key < $1.key }) where checksums.count > 1 {
            if Set(checksums).count > 1 {
                findings.problems.append(
                    Finding(
                        store: store.store, object: name,
                        problem:
                            "\(checksums.count) objects with different contents under one name (sha256 \(Set(checksums).sorted().map { String($0.prefix(12)) + "…" }.joined(separator: ", ")))"
                    ))
            } else {
                findings.notes.append(
                    Finding(store: store.store, object: name, problem: "\(checksums.count) identical copies (two archivers raced); harmless"))
            }
        }
        return findings
    }

    /// WAL segments before the start of every backup in the store: no restore can use them.
    public static func unused(in store: Holdings, segmentSize: Int) -> [Finding] {
        guard let cutoff = store.backups.map({ $0.startLSN.segmentNumber(segmentSize: segmentSize) }).min() else { return [] }
        let unused = store.segments.filter { $0.segmentNumber(segmentSize: segmentSize) < cutoff }
        return WALRuns.runs(unused, segmentSize: segmentSize).map { run in
            Finding(
                store: store.store, object: run.first,
                problem:
                    "\(run.segments) WAL segment\(run.segments == 1 ? "" : "s") (\(run.first) to \(run.last)) before the oldest backup's start: no restore uses them; walvault expire removes them"
            )
        }
    }

    /// What a store should hold that another holds: every backup that stopped no earlier than its
    /// own oldest backup, every WAL file from its oldest backup's start on (a store that keeps
    /// fewer days has expired the older ones), every timeline history; a store with no backup
    /// should hold everything. Objects still queued for the store are not missing, only late.
    public static func missingAcrossStores(_ holdings: [Holdings], segmentSize: Int) -> [Finding] {
        var findings: [Finding] = []
        for store in holdings {
            let oldestStop = store.backups.map(\.stopTime).min()
            let cutoff = store.backups.map { $0.startLSN.segmentNumber(segmentSize: segmentSize) }.min()
            let ownLabels = Set(store.backups.map(\.label))
            var reported: Set<String> = []
            for other in holdings where other.store != store.store {
                for backup in other.backups.sorted(by: { $0.label < $1.label })
                where !ownLabels.contains(backup.label) && !store.queued.contains(backup.label) && !reported.contains(backup.label)
                    && oldestStop.map({ backup.stopTime >= $0 }) ?? true
                {
                    reported.insert(backup.label)
                    findings.append(
                        Finding(
                            store: store.store, object: backup.label,
                            problem: "backup \(backup.label) is in store \"\(other.store)\" but not in this one"))
                }
                for name in other.walFiles.keys.sorted()
                where store.walFiles[name] == nil && !store.queued.contains(name) && !reported.contains(name) {
                    guard let file = WALFileName(name) else { continue }
                    switch file {
                    case .history: break
                    case .segment(let s), .partial(let s), .backupHistory(let s, _):
                        if let cutoff, s.segmentNumber(segmentSize: segmentSize) < cutoff { continue }
                    }
                    reported.insert(name)
                    findings.append(Finding(store: store.store, object: name, problem: "in store \"\(other.store)\" but not in this one"))
                }
                // Said once per pair of stores, by the one whose name sorts first.
                for (name, checksums) in other.walFiles.sorted(by: { $0.key < $1.key }) where store.store < other.store {
                    guard let own = store.walFiles[name], Set(own).isDisjoint(with: checksums) else { continue }
                    findings.append(
                        Finding(store: store.store, object: name, problem: "different contents from the copy in store \"\(other.store)\""))
                }
            }
        }
        return findings
    }
}
