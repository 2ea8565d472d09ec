import WalvaultHistory
import WalvaultSystem

/// What an operation reports about one object it stored, or about itself when it stores none
/// (a restore): the facts history rows, the CLI, and later the shipping queue and the dashboard
/// all read, so that no command needs its own mapping to any of them.
public struct OperationFacts: Equatable, Sendable {
    public var objectName: String?
    public var size: Int?
    public var storedSize: Int?
    public var sha256: String?
    public var systemIdentifier: String?
    public var timeline: Int?
    public var startLSN: String?
    public var stopLSN: String?
    /// The store's own handle of the object when it is not the key (a Telegram file_id).
    public var fileID: String?
    /// Logical exports: the schema dumped; rows exported, their time range (µs, end excluded), rows deleted.
    public var schema: String?
    public var rowCount: Int?
    public var rangeStart: Int64?
    public var rangeEnd: Int64?
    public var rowsDeleted: Int?

    public init(objectName: String? = nil, size: Int? = nil, storedSize: Int? = nil, sha256: String? = nil, systemIdentifier: String? = nil,
                timeline: Int? = nil, startLSN: String? = nil, stopLSN: String? = nil, fileID: String? = nil) {
        self.fileID = fileID
        self.objectName = objectName
        self.size = size
        self.storedSize = storedSize
        self.sha256 = sha256
        self.systemIdentifier = systemIdentifier
        self.timeline = timeline
        self.startLSN = startLSN
        self.stopLSN = stopLSN
    }
}

/// One event of one operation, in order: `started`, then any of `progressed`, `warning` and
/// `stored`, then `succeeded` or `failed`.
public enum OperationEvent: Equatable, Sendable {
    /// - Parameters:
    ///   - type: what the history table calls this kind of work (WAL, database).
    ///   - subject: what it is about, when known at the start (the WAL file).
    case started(operation: String, type: HistoryRecord.Kind, subject: String?)
    case progressed(note: String)
    case warning(String)
    /// An object made durable in a store.
    case stored(store: String, key: String, facts: OperationFacts)
    /// Facts about the whole operation, for those that store nothing.
    case succeeded(OperationFacts?)
    /// The error's one line, and its stable code (`ErrorCodes.of`).
    case failed(error: String, code: String)
}

/// Receives an operation's events as they happen.
public protocol OperationObserver: AnyObject {
    func receive(_ event: OperationEvent)
}

/// Keeps every event, and passes each on to a closure (the CLI's printer) as it comes.
public final class EventLog: OperationObserver {
    public private(set) var events: [OperationEvent] = []
    let forward: (OperationEvent) -> Void

    public init(forward: @escaping (OperationEvent) -> Void = { _ in }) { self.forward = forward }

    public func receive(_ event: OperationEvent) {
        events.append(event)
        forward(event)
    }
}

extension OperationObserver {
    /// Runs `body` between `started` and `succeeded`/`failed`, so no operation can forget either.
    func run<T>(_ operation: String, type: HistoryRecord.Kind, subject: String? = nil,
                summary: (T) -> (stored: [(store: String, key: String, facts: OperationFacts)], facts: OperationFacts?),
                _ body: () throws -> T) throws -> T {
        receive(.started(operation: operation, type: type, subject: subject))
        do {
            let result = try body()
            let (stored, facts) = summary(result)
            for item in stored { receive(.stored(store: item.store, key: item.key, facts: item.facts)) }
            receive(.succeeded(facts))
            return result
        } catch {
            receive(.failed(error: "\(error)", code: ErrorCodes.of(error)))
            throw error
        }
    }
}

/// For callers that do not listen.
public final class IgnoredEvents: OperationObserver {
    public init() {}
    public func receive(_ event: OperationEvent) {}
}
