import ArgumentParser

/// A number of seconds given on the command line. Checked while parsing, so that `nan`, `inf`,
/// negative or absurd values are one usage line before anything starts, never a trap half-way
/// through a backup or a wait that cannot end.
struct DurationArgument: ExpressibleByArgument, CustomStringConvertible {
    static let maximum: Double = 7 * 86_400

    let seconds: Double

    init(seconds: Double) { self.seconds = seconds }

    init?(argument: String) {
        guard let parsed = try? Self.parse(argument) else { return nil }
        self = parsed
    }

    /// For `@Option(transform:)`, so the usage line says what is expected.
    static func parse(_ argument: String) throws -> DurationArgument {
        guard let value = Double(argument), value.isFinite, value > 0, value <= maximum else {
            throw ValidationError("expected a number of seconds greater than 0 and at most \(Int(maximum))")
        }
        return DurationArgument(seconds: value)
    }

    var description: String { seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds) }

    static var defaultCompletionKind: CompletionKind { .default }
}
