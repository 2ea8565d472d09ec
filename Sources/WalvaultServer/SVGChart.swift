/// The overview's charts as SVG, drawn on the server (no script, no library): the database's size
/// over time, and the restore page's timeline of backups. Pure: numbers in, markup out; every
/// label is a number or a date, so nothing from a user reaches the markup.
enum SVGChart {
    struct Point: Equatable {
        /// µs since the epoch.
        let at: Int64
        let value: Int64
    }

    static let width = 720
    static let height = 220
    static let margin = (left: 70, right: 10, top: 10, bottom: 30)

    /// A line of `points` over time, with the smallest and largest value and the first and last
    /// date on the axes; nil with fewer than two points (the page says so instead).
    static func growth(_ points: [Point], label: (Int64) -> String, date: (Int64) -> String) -> String? {
        let sorted = points.sorted { $0.at < $1.at }
        guard sorted.count >= 2, let first = sorted.first, let last = sorted.last, last.at > first.at else { return nil }
        let low = sorted.map(\.value).min()!
        let high = sorted.map(\.value).max()!
        let span = max(1, high - low)
        let plotWidth = Double(width - margin.left - margin.right)
        let plotHeight = Double(height - margin.top - margin.bottom)
        func x(_ at: Int64) -> Int { margin.left + Int((Double(at - first.at) / Double(last.at - first.at) * plotWidth).rounded()) }
        func y(_ value: Int64) -> Int { margin.top + Int(((1 - Double(value - low) / Double(span)) * plotHeight).rounded()) }
        let line = sorted.map { "\(x($0.at)),\(y($0.value))" }.joined(separator: " ")
        let bottom = height - margin.bottom
        let area = "\(x(first.at)),\(bottom) " + line + " \(x(last.at)),\(bottom)"
        return """
            <svg id="growth-chart" class="chart" viewBox="0 0 \(width) \(height)" role="img" aria-label="database size over time">\
            <polygon class="area" points="\(area)"/>\
            <polyline class="line" points="\(line)"/>\
            <line class="axis" x1="\(margin.left)" y1="\(bottom)" x2="\(width - margin.right)" y2="\(bottom)"/>\
            <line class="axis" x1="\(margin.left)" y1="\(margin.top)" x2="\(margin.left)" y2="\(bottom)"/>\
            <text x="\(margin.left - 6)" y="\(margin.top + 10)" text-anchor="end">\(label(high))</text>\
            <text x="\(margin.left - 6)" y="\(bottom)" text-anchor="end">\(label(low))</text>\
            <text x="\(margin.left)" y="\(height - 8)">\(date(first.at))</text>\
            <text x="\(width - margin.right)" y="\(height - 8)" text-anchor="end">\(date(last.at))</text>\
            </svg>
            """
    }

    /// Backups as marks on a line from the oldest to now.
    static func timeline(backups: [Int64], now: Int64) -> String? {
        guard let oldest = backups.min(), now > oldest else { return nil }
        let plot = Double(width - 20)
        let marks = backups.sorted().map { at in
            let x = 10 + Int((Double(at - oldest) / Double(now - oldest) * plot).rounded())
            return "<circle class=\"backup\" cx=\"\(x)\" cy=\"20\" r=\"5\"/>"
        }.joined()
        return "<svg id=\"restore-timeline\" viewBox=\"0 0 \(width) 40\" role=\"img\" aria-label=\"backups over time\">"
            + "<line class=\"axis\" x1=\"10\" y1=\"20\" x2=\"\(width - 10)\" y2=\"20\"/>" + marks + "</svg>"
    }
}

/// How pages write sizes.
enum HumanBytes {
    static func text(_ bytes: Int64) -> String {
        let units = ["bytes", "KB", "MB", "GB", "TB", "PB"]
        var value = Double(bytes)
        var unit = 0
        while abs(value) >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) bytes" }
        return "\((value * 10).rounded() / 10) \(units[unit])"
    }

    static func signed(_ bytes: Int64?) -> String {
        guard let bytes else { return "not known yet" }
        return (bytes >= 0 ? "+" : "−") + text(abs(bytes))
    }
}
