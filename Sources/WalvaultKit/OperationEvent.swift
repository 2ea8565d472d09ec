import Synchronization
import WalvaultCatalog
import WalvaultSystem

/// Every kind of work walvault does, as the runner, status files, history and the server name it.
public enum OperationKind: String, Codable, CaseIterable, Sendable {
    case archivePush = "archive-push"
    case archiveGet = "archive-get"
    case backup
    case restore
    case verify
    case drill
    case expire
    case check
    case ship
    case dump
    case dumpRestore = "dump-restore"
    case exportLogs = "export-logs"
    case info
    case deleteBackup = "delete-backup"
    case filesBackup = "files-backup"
    case filesRestore = "files-restore"

    /// Work long enough to watch: it writes a status file under the spool while it runs.
    public var isTracked: Bool {
        switch self {
        case .backup, .restore, .verify, .drill, .expire, .ship, .dump, .dumpRestore, .exportLogs, .deleteBackup, .filesBackup, .filesRestore: true
        case .archivePush, .archiveGet, .check, .info: false
        }
    }
}

/// How far an operation is through its current phase: a progress bar's numbers.
public struct ProgressReport: Equatable, Codable, Sendable {
    public enum Unit: String, Codable, Sendable {
        case bytes
        case files
        case objects
        case parts
    }

    /// A short word for the step: "copy", "wait-wal", "restore", "verify", "ship".
    public var phase: String
    public var done: Int64
    /// nil while not known.
    public var total: Int64?
    public var unit: Unit
    /// Files (or objects, as `counting` says) done and in all, beside bytes, when the phase counts both.
    public var filesDone: Int?
    public var filesTotal: Int?
    public var counting: Unit?

    public init(phase: String, done: Int64, total: Int64?, unit: Unit, filesDone: Int? = nil, filesTotal: Int? = nil, counting: Unit? = nil) {
        self.phase = phase
        self.done = done
        self.total = total
        self.unit = unit
        self.filesDone = filesDone
        self.filesTotal = filesTotal
        self.counting = counting
    }

    /// What `filesDone` counts, in words.
    public var countedItems: String { (counting ?? (unit == .bytes ? .files : unit)).rawValue }

    /// Whole percent, when the total is known.
    public var percent: Int? {
        guard let total, total > 0 else { return total == 0 ? 100 : nil }
        return Int(min(100, max(0, done * 100 / total)))
    }
}

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

    public init(
        objectName: String? = nil, size: Int? = nil, storedSize: Int? = nil, sha256: String? = nil, systemIdentifier: String? = nil,
        timeline: Int? = nil, startLSN: String? = nil, stopLSN: String? = nil, fileID: String? = nil
    ) {
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
    case started(operation: String, type: BackupType, subject: String?)
    case progressed(note: String)
    /// Numbers for a progress bar; observers see at most about ten a second (`ProgressMeter`).
    case progress(ProgressReport)
    case warning(String)
    /// An object made durable in a store.
    case stored(store: String, key: String, facts: OperationFacts)
    /// Facts about the whole operation, for those that store nothing.
    case succeeded(OperationFacts?)
    /// The error's one line, and its stable code (`ErrorCodes.of`).
    case failed(error: String, code: String)
}

/// Receives an operation's events as they happen, from whichever thread did the work, and
/// carries the operation's cancellation to it.
public protocol OperationObserver: AnyObject, Sendable {
    func receive(_ event: OperationEvent)
    /// Looked at between units of work.
    var cancellation: Cancellation { get }
}

extension OperationObserver {
    public var cancellation: Cancellation { .never }
}

/// Keeps every event, and passes each on to a closure (the CLI's printer) as it comes.
public final class EventLog: OperationObserver {
    private let kept = Mutex<[OperationEvent]>([])
    package let forward: @Sendable (OperationEvent) -> Void
    public let cancellation: Cancellation

    public init(cancellation: Cancellation = .never, forward: @escaping @Sendable (OperationEvent) -> Void = { _ in }) {
        self.cancellation = cancellation
        self.forward = forward
    }

    public var events: [OperationEvent] { kept.withLock { $0 } }

    public func receive(_ event: OperationEvent) {
        kept.withLock { events in
            // Progress is for watching, not for the record: only the latest is kept.
            if case .progress = event, case .progress? = events.last { events.removeLast() }
            events.append(event)
            forward(event)
        }
    }
}

extension OperationObserver {
    /// Runs `body` between `started` and `succeeded`/`failed`, so no operation can forget either.
    public func run<T>(
        _ operation: String, type: BackupType, subject: String? = nil,
        summary: (T) -> (stored: [(store: String, key: String, facts: OperationFacts)], facts: OperationFacts?),
        _ body: () throws -> T
    ) throws -> T {
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

/// An operation run inside another (the drill's restore): its progress and warnings reach the
/// outer one's observer, and the outer cancellation stops it, but its start and end do not, so
/// the history gets one row, the outer operation's.
public final class NestedEvents: OperationObserver {
    package let outer: OperationObserver
    public init(_ outer: OperationObserver) { self.outer = outer }
    public var cancellation: Cancellation { outer.cancellation }
    public func receive(_ event: OperationEvent) {
        switch event {
        case .progress, .progressed, .warning: outer.receive(event)
        case .started, .stored, .succeeded, .failed: break
        }
    }
}

/// For callers that do not listen.
public final class IgnoredEvents: OperationObserver {
    public init() {}
    public func receive(_ event: OperationEvent) {}
}
