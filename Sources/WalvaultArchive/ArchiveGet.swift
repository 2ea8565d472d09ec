import WalvaultCatalog
import WalvaultConfig
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

public enum ArchiveGetOutcome: Equatable {
    case restored(store: String, object: StoreObject, size: Int)
    /// No store has the file: PostgreSQL asks for files past the end of the archive during every recovery.
    case notArchived
}

/// One reason a store could not deliver the file; kept so the final message names each object.
public struct ArchiveGetFailure: Problem {
    public let file: String
    public let problems: [String]
    /// A standby asks again and keeps streaming; a targeted recovery stops (see ExitCodes).
    public var inStandby = false

    public var problem: String { "cannot deliver \(file) intact: " + problems.joined(separator: "; also ") }
    public var fix: String {
        inStandby
            ? "the standby keeps streaming and will ask again: fix the store, or add one that has a good copy"
            : "recovery was stopped rather than continue without it: repair or replace the object, or add a store that has a good copy"
    }
    public var errorCode: String { "archive_get.undeliverable" }
}

/// `%p` cannot be written. No other store can help with that, and nothing is wrong with the
/// stored object: the fix is where PostgreSQL asked the file to go.
public struct ArchiveGetDestinationError: Problem {
    public let problem: String
    public let fix: String
    public var errorCode: String { "archive_get.destination" }
}

/// PostgreSQL's restore_command. Bytes reach `%p` only after their SHA-256 matched the
/// object's name, and only by rename, so PostgreSQL never sees a partial or wrong file.
public struct ArchiveGet {
    public let context: WalvaultContext
    /// Problems with one store that another store made up for; reported as warnings.
    public private(set) var warnings: [String] = []

    /// The look-ahead (`[performance] prefetch`), when this is a recovery with a spool.
    public var prefetch: PrefetchSpool?
    /// Called once a segment request is recorded in the spool: starts the background worker.
    public var onPrefetchRequest: () -> Void = {}

    public init(context: WalvaultContext) { self.context = context }

    public mutating func run(fileName: String, destination: String) throws -> ArchiveGetOutcome {
        guard let file = WALFileName(fileName), fileName == Paths.basename(fileName) else {
            throw CommandError(
                problem: "\"\(fileName)\" is not a WAL file name",
                fix: "restore_command must pass %f and %p: walvault archive-get %f \"%p\"")
        }
        if let prefetch, case .segment = file, (try? prefetch.request(fileName)) != nil {
            onPrefetchRequest()
            if let size = try? prefetch.handOver(fileName, to: destination) {
                return .restored(store: "prefetch", object: StoreObject(key: Paths.join(prefetch.directory, fileName), size: size), size: size)
            }
        }
        let outcome = try fetchFromStores(file: file, destination: destination)
        if outcome == .notArchived, case .history = file, let spool = try? context.trustedSpool {
            // PostgreSQL looks for the next timeline's history when recovery ends: the look-ahead is done.
            PrefetchSpool.removeAll(spool: spool, cluster: context.config.cluster.name)
        }
        return outcome
    }

    private mutating func fetchFromStores(file: WALFileName, destination: String) throws -> ArchiveGetOutcome {
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        var problems: [String] = []
        for store in context.stores {
            let object: StoreObject
            do {
                switch try store.copyToRead(of: file, layout: layout) {
                case .none: continue
                case .one(let found, _): object = found
                case .different(let objects):
                    problems.append(
                        "store \"\(store.name)\" holds \(objects.count) different objects for \(file) (\(objects.map(\.key).joined(separator: ", ")))"
                    )
                    continue
                }
            } catch {
                problems.append("\(error)")
                continue
            }
            do {
                let size = try fetch(object, from: store, to: destination)
                warnings = problems
                return .restored(store: store.name, object: object, size: size)
            } catch let error as ArchiveGetDestinationError {
                throw error
            } catch {
                problems.append("\(error)")
            }
        }
        if problems.isEmpty { return .notArchived }
        throw ArchiveGetFailure(file: file.description, problems: problems, inStandby: ExitCodes.isStandby())
    }

    /// Verified bytes reach `destination` only by rename, after ObjectFetcher checked the checksum.
    private func fetch(_ object: StoreObject, from store: Store, to destination: String) throws -> Int {
        let passPercentP = "restore_command must pass %p as PostgreSQL gives it: walvault archive-get %f \"%p\""
        func destinationError(_ reason: String, hint: String?) -> ArchiveGetDestinationError {
            ArchiveGetDestinationError(problem: "cannot write \(destination): \(reason)", fix: (hint.map { $0 + "; " } ?? "") + passPercentP)
        }
        if FileSystem.isDirectory(destination) {
            throw destinationError("it is a directory", hint: nil)
        }
        guard FileSystem.isDirectory(Paths.dirname(destination)) else {
            throw destinationError("its directory \(Paths.dirname(destination)) does not exist", hint: nil)
        }
        let staged: StagedFile
        do {
            staged = try StagedFile(destination: destination)
        } catch let error as StagedFile.Failure {
            throw destinationError(error.cause.reason, hint: error.cause.hint)
        }
        let size: Int
        do {
            size = try ObjectFetcher.fetch(object, from: store, into: FileSink(file: staged.file))
        } catch let error as SystemError where error.path == staged.temporary {
            throw destinationError(error.reason, hint: error.hint)
        }
        do {
            try staged.replaceDestination()
        } catch let error as StagedFile.Failure {
            throw destinationError(error.cause.reason, hint: error.cause.hint)
        }
        return size
    }
}
