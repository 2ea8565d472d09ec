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
    public init?(timeline: UInt32, text: String) {
        var ancestors: [Switch] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let parent = UInt32(fields[0]), let lsn = LSN(String(fields[1])),
                  parent >= 1, parent < timeline, ancestors.last.map({ $0.parent < parent && $0.switchPoint <= lsn }) ?? true
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
            && parent.ancestors.last.map { $0.switchPoint <= last.switchPoint } ?? true
    }

    /// Where this timeline's history leaves `timeline`, if it passes through it.
    public func switchPoint(leaving timeline: UInt32) -> LSN? {
        ancestors.first { $0.parent == timeline }?.switchPoint
    }
}
