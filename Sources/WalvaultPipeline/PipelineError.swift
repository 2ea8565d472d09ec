/// A failure inside a transformation stage: the bytes were not what the stage can read,
/// or the C library refused. `stage` names the library so that the message says where.
public struct PipelineError: Error, CustomStringConvertible, Equatable {
    public let stage: String
    public let message: String

    public init(stage: String, _ message: String) {
        self.stage = stage
        self.message = message
    }

    public var description: String { "\(stage): \(message)" }
}
