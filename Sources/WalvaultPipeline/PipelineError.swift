/// A failure inside a transformation stage: the bytes were not what the stage can read,
/// or the C library refused. `stage` names the library so that the message says where.
import WalvaultSystem

public struct PipelineError: Problem, Equatable {
    public let stage: String
    public let message: String

    public init(stage: String, _ message: String) {
        self.stage = stage
        self.message = message
    }

    public var description: String { problem }
    public var problem: String { "\(stage): \(message)" }
    public var fix: String { "" }
    /// The bytes are not what the stage reads (a damaged object), or the library refused.
    public var errorCode: String { "pipeline.bad_data" }
}
