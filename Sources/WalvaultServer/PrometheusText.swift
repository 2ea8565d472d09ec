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
                out += "# HELP \(sample.name) \(escapeHelp(sample.help))\n# TYPE \(sample.name) gauge\n"
            }
            out += sample.name
            if !sample.labels.isEmpty {
                out += "{" + sample.labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
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

    static func escapeLabel(_ text: String) -> String {
        var out = ""
        for character in text.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    static func escapeHelp(_ text: String) -> String {
        var out = ""
        for character in text.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }
}
