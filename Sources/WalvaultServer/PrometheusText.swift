import WalvaultMaintenance

/// The Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` once per name,
/// then one line per sample, label values escaped as the format says (backslash, quote, newline).
enum PrometheusText {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    static func render(_ samples: [MetricsSnapshot.Sample]) -> String {
        var out = ""
        var described: Set<String> = []
        for sample in samples {
            if described.insert(sample.name).inserted {
                out += "# HELP \(sample.name) \(escape(sample.help, quote: false))\n# TYPE \(sample.name) gauge\n"
            }
            out += sample.name
            if !sample.labels.isEmpty {
                out += "{" + sample.labels.map { "\($0.0)=\"\(escape($0.1, quote: true))\"" }.joined(separator: ",") + "}"
            }
            out += " \(number(sample.value))\n"
        }
        return out
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// The exposition format's escapes: a backslash and a newline in HELP text; those and a
    /// double quote in a label value.
    static func escape(_ text: String, quote: Bool) -> String {
        var out = ""
        for character in text.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\"" where quote: out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }
}
