/// The content of a `NNNNNNNN.history` file: for timeline N, every ancestor timeline and the
/// location where N's line of history left it. Recovery follows these to reach a later timeline.
public struct TimelineHistory: Equatable, Sendable {
    public struct Switch: Equatable, Sendable {
        public let parent: UInt32
        public let switchPoint: LSN
    }

    public let timeline: UInt32
    /// Oldest first.
    public let ancestors: [Switch]

    public init(timeline: UInt32, ancestors: [Switch]) {
        self.timeline = timeline
        self.ancestors = ancestors
    }

    /// Parses PostgreSQL's format: `parentTLI <tab> switchpoint <tab> reason`, one line per
    /// ancestor; blank lines and `#` comments are allowed, as in PostgreSQL's own reader.
    /// Accepts exactly what `readTimeLineHistory` accepts: parents strictly increasing, each below
    /// `timeline`. Switch points may go down: a recovery that stops on timeline 1 at a point it
    /// read from timeline 2's segment (before 2 branched) records 2 as the parent with a switch
    /// point below 2's own start, and PostgreSQL then skips timeline 2 entirely (see `path`).
    public init?(timeline: UInt32, text: String) {
        var ancestors: [Switch] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let parent = UInt32(fields[0]), let lsn = LSN(String(fields[1])),
                parent >= 1, parent < timeline, ancestors.last.map({ $0.parent < parent }) ?? true
            else { return nil }
            ancestors.append(Switch(parent: parent, switchPoint: lsn))
        }
        guard !ancestors.isEmpty else { return nil }
        self.init(timeline: timeline, ancestors: ancestors)
    }

    /// PostgreSQL writes a new timeline's history as its parent's history plus one line, so a
    /// file that contradicts its parent's stored history cannot belong to this cluster's timelines.
    public func extends(_ parent: TimelineHistory) -> Bool {
        guard let last = ancestors.last, last.parent == parent.timeline else { return true }
        return Array(ancestors.dropLast()) == parent.ancestors
    }

    /// One stretch of WAL that recovery along this history reads from one timeline.
    public struct Leg: Equatable, Sendable {
        public let timeline: UInt32
        /// Zero for the oldest timeline: it holds everything before its end.
        public let begin: LSN
        /// Nil for this history's own timeline, which goes on.
        public let end: LSN?
    }

    /// The timelines recovery actually reads, oldest first, as PostgreSQL's `tliOfPointInHistory`
    /// sees them: it asks the newest timeline first, so a later timeline owns every point from its
    /// start on, and an ancestor whose switch point lies at or before the next one's start holds no
    /// point at all and is left out. Each leg ends where the next begins.
    public var path: [Leg] {
        guard let newest = ancestors.last else { return [Leg(timeline: timeline, begin: LSN(0), end: nil)] }
        var legs = [Leg(timeline: timeline, begin: newest.switchPoint, end: nil)]
        var floor = newest.switchPoint
        for index in ancestors.indices.reversed() {
            let begin = index == 0 ? LSN(0) : ancestors[index - 1].switchPoint
            let end = min(ancestors[index].switchPoint, floor)
            guard begin < end else { continue }
            legs.append(Leg(timeline: ancestors[index].parent, begin: begin, end: end))
            floor = begin
        }
        return legs.reversed()
    }

    /// Where recovery along this history leaves `timeline`; nil when it never reads from it.
    public func switchPoint(leaving timeline: UInt32) -> LSN? {
        path.first { $0.timeline == timeline && $0.end != nil }?.end
    }
}
