/// Archived segments of one timeline as contiguous runs: what `info` shows, and where the gaps are.
public struct WALRun: Codable, Equatable, Sendable {
    public let timeline: UInt32
    public let first: String
    public let last: String
    public let segments: Int
}

public enum WALRuns {
    public static func runs(_ segments: some Collection<WALSegmentName>, segmentSize: Int) -> [WALRun] {
        var result: [WALRun] = []
        let byTimeline = Dictionary(grouping: segments, by: \.timeline)
        for timeline in byTimeline.keys.sorted() {
            let numbers = byTimeline[timeline]!.map { $0.segmentNumber(segmentSize: segmentSize) }.sorted()
            var start = numbers[0]
            var previous = numbers[0]
            func close() {
                result.append(
                    WALRun(
                        timeline: timeline,
                        first: WALSegmentName(timeline: timeline, segmentNumber: start, segmentSize: segmentSize).description,
                        last: WALSegmentName(timeline: timeline, segmentNumber: previous, segmentSize: segmentSize).description,
                        segments: Int(previous - start + 1)))
            }
            for number in numbers.dropFirst() {
                if number != previous + 1 { close(); start = number }
                previous = number
            }
            close()
        }
        return result
    }
}
