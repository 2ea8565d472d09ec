import WalvaultCatalog

/// Where a range of a file lives while a backup is being taken: in this backup's parts (`label`
/// nil) or in a part of an earlier backup. Sources become indexes only when the manifest is built.
package struct SourcedRange: Equatable {
    package var label: String?
    package var part: Int
    package var offset: Int
    package var length: Int
}

/// A file's ranges in file order, adjacent ones merged: a run of unchanged blocks that lies
/// contiguously in one part of the prior is one range, however many blocks it has.
package struct FileRanges {
    package private(set) var ranges: [SourcedRange] = []

    package init() {}

    package mutating func append(_ range: SourcedRange) {
        guard range.length > 0 else { return }
        if let last = ranges.last, last.label == range.label, last.part == range.part, last.offset + last.length == range.offset {
            ranges[ranges.count - 1].length += range.length
        } else {
            ranges.append(range)
        }
    }

    package mutating func appendOwn(_ placement: PartStream.Placement) {
        append(SourcedRange(label: nil, part: placement.part, offset: placement.offset, length: placement.length))
    }
}

/// Walks a prior file's ranges forward, handing out the ones under a stretch of the file: the
/// blocks of a file are compared in order, so one cursor serves the whole file.
package struct PriorRangeCursor {
    private let ranges: [SourcedRange]
    private var index = 0
    /// File offset where `ranges[index]` starts.
    private var start = 0

    package init(_ ranges: [SourcedRange]) { self.ranges = ranges }

    /// The prior's ranges holding file bytes `offset ..< offset + length`, appended to `out`; false,
    /// appending nothing, if the prior has no such bytes. Called once per block, so the usual case
    /// (the block inside one range) allocates nothing.
    package mutating func ranges(at offset: Int, length: Int, into out: inout FileRanges) -> Bool {
        while index < ranges.count, start + ranges[index].length <= offset {
            start += ranges[index].length
            index += 1
        }
        guard index < ranges.count, start <= offset else { return false }
        let range = ranges[index]
        let within = offset - start
        if within + length <= range.length {
            out.append(SourcedRange(label: range.label, part: range.part, offset: range.offset + within, length: length))
            return true
        }
        // Across ranges (a part boundary): gather first, so a refusal appends nothing.
        var position = offset
        var i = index
        var s = start
        var pieces: [SourcedRange] = []
        while position < offset + length {
            guard i < ranges.count, s <= position else { return false }
            let range = ranges[i]
            let inside = position - s
            let take = min(range.length - inside, offset + length - position)
            pieces.append(SourcedRange(label: range.label, part: range.part, offset: range.offset + inside, length: take))
            position += take
            if inside + take == range.length {
                s += range.length
                i += 1
            }
        }
        for piece in pieces { out.append(piece) }
        return true
    }
}
