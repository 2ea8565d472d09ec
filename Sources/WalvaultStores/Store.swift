import WalvaultSystem

/// What a store can do, so that commands adapt to a store instead of assuming the local one:
/// Telegram cannot list and caps object size; S3 lists but cannot lock a directory.
public struct StoreCapabilities: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Keys can be enumerated by prefix. Without it, walvault must keep its own catalog.
    public static let listing = StoreCapabilities(rawValue: 1 << 0)
    /// "Create unless an object with this prefix exists" is atomic (local: flock + link).
    public static let atomicConditionalCreate = StoreCapabilities(rawValue: 1 << 1)
    /// Objects can be deleted (retention). Telegram deletes by itself after 48 hours.
    public static let deletion = StoreCapabilities(rawValue: 1 << 2)
    /// Data is on this machine: losing the machine loses the store.
    public static let onThisMachine = StoreCapabilities(rawValue: 1 << 3)
    /// A commit is visible to this process at once but durable only after `flush()` (Telegram
    /// bundles small objects into one document and records them in a pinned catalog), so a
    /// shipper keeps its queue entries until `flush` returns.
    public static let deferredCommit = StoreCapabilities(rawValue: 1 << 4)
    /// One catalog for the whole store, rewritten by every writer (a Telegram chat): it holds one
    /// cluster's archive, and `ship` refuses a second cluster there.
    public static let oneCluster = StoreCapabilities(rawValue: 1 << 5)
    /// The store deletes a group of objects whole, where it cannot delete them one by one (a
    /// Telegram forum topic, after Telegram's 48 hours): writers say which group an object joins.
    public static let groupDeletion = StoreCapabilities(rawValue: 1 << 6)
}

/// Objects that retention lets go together: a base backup's parts and the WAL from its start
/// until the next backup starts (`ObjectGroupPlan`). A store with `.groupDeletion` keeps them
/// together; the others ignore it.
public struct ObjectGroup: Hashable, Sendable {
    /// Shown to people where the store shows groups (a topic's title), and how a store finds the group again.
    public let name: String
    public init(name: String) { self.name = name }
}

/// What `flush` made of the deletions since the last one.
public struct FlushReport: Equatable, Sendable {
    /// Objects no longer in the store's catalog whose bytes the service would not delete, with why.
    public var leftBehind: [String: String] = [:]
    /// Groups deleted whole (`.groupDeletion`), with the bytes that went with each.
    public var groupsDeleted: [String: Int] = [:]
    /// Groups that nothing kept uses any more but that could not be deleted yet, with why: the
    /// next flush tries again.
    public var groupsLeft: [String: String] = [:]
    public init(leftBehind: [String: String] = [:]) { self.leftBehind = leftBehind }
}

/// An object as a store lists it.
public struct StoreObject: Sendable, Equatable, CustomStringConvertible {
    /// Slash-separated, relative to the store's root: "main/wal/0000000100000000/…".
    public let key: String
    public let size: Int
    /// When the object was stored (µs since the epoch), where the store knows: restore uses it to
    /// tell which WAL segments were complete before a target time.
    public let modifiedAt: Int64?

    public init(key: String, size: Int, modifiedAt: Int64? = nil) {
        self.key = key
        self.size = size
        self.modifiedAt = modifiedAt
    }

    public var name: String { Paths.basename(key) }
    public var description: String { key }
}

public enum CommitOutcome: Equatable {
    case stored(StoreObject)
    /// What already holds the name (or, from the repository's placement, the prefix); nothing was written.
    case alreadyPresent([StoreObject])
}

/// The one interface every store driver implements. Keys are relative, slash-separated paths;
/// a "directory" is a key prefix ending before a name. A store is shared between threads
/// (`Sendable`); each reader and writer it hands out is used by one thread at a time.
/// Every failure is a `StoreError` whose `kind` tells a retry from a refusal.
public protocol Store: AnyObject, Sendable {
    var name: String { get }
    var capabilities: StoreCapabilities { get }
    /// Largest object the store accepts, if it has a limit (Telegram: 20 MiB downloads).
    var maxObjectSize: Int? { get }
    /// A human-readable location for messages ("/var/backups/walvault", "s3://bucket/prefix").
    var location: String { get }

    /// Complete objects in `directory` whose names start with `namePrefix`. Never lists
    /// temporary or half-written objects.
    func list(directory: String, namePrefix: String) throws -> [StoreObject]
    /// Names of the sub-directories (key prefixes) directly under `directory`.
    func listSubdirectories(directory: String) throws -> [String]
    func openReader(key: String) throws -> ObjectReader
    /// The object at exactly `key`, or nil. Needs no listing: a store without `.listing` answers it.
    func head(key: String) throws -> StoreObject?
    /// A writer whose object appears, complete, only when committed.
    func makeWriter(directory: String) throws -> ObjectWriter
    /// The same, for an object that joins `group` in a store with `.groupDeletion`.
    func makeWriter(directory: String, group: ObjectGroup?) throws -> ObjectWriter
    /// Reads a small object (info files); nil when it does not exist.
    func readSmall(key: String) throws -> [UInt8]?
    /// Creates a small object durably unless it exists; false when it already existed.
    func createSmall(key: String, contents: [UInt8]) throws -> Bool
    func createSmall(key: String, contents: [UInt8], group: ObjectGroup?) throws -> Bool
    /// Removes an object (stores with `.deletion` only); one that is already gone is no error.
    /// Used to take back what a failed operation wrote; retention will use it too.
    func delete(key: String) throws
    /// Makes every commit and deletion so far durable (stores with `.deferredCommit`); a no-op elsewhere.
    func flush() throws -> FlushReport
    /// The service's own handle of an object, for the history table (Telegram: its document's
    /// file_id), when it differs from the key.
    func handle(of key: String) -> String?
    /// Abandons what a writer killed half-way left on the service under `directory`, begun
    /// before `micros` (S3: multipart uploads, billed until aborted). - Returns: how many.
    func abortAbandonedUploads(under directory: String, begunBefore micros: Int64) throws -> Int
}

extension Store {
    public func makeWriter(directory: String, group: ObjectGroup?) throws -> ObjectWriter { try makeWriter(directory: directory) }
    public func createSmall(key: String, contents: [UInt8], group: ObjectGroup?) throws -> Bool {
        try createSmall(key: key, contents: contents)
    }
    public func flush() throws -> FlushReport { FlushReport() }
    public func handle(of key: String) -> String? { nil }
    /// Stores whose writers leave nothing behind when killed (a local temporary file is never
    /// listed and is replaced by the next writer) have nothing to abort.
    public func abortAbandonedUploads(under directory: String, begunBefore micros: Int64) throws -> Int { 0 }
}

public protocol ObjectReader: AnyObject {
    /// Reads up to `buffer.count` bytes; 0 at the end of the object.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// Receives an object's bytes. Nothing is visible under a final name until `commit`.
public protocol ObjectWriter: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Makes the object durable under exactly `directory/name` unless that key exists, in which
    /// case nothing is written and the existing object is returned: "create unless it exists",
    /// atomically where the store can. Policies over several names (one object per WAL file,
    /// whatever its checksum) belong to the repository (`ObjectPlacement`), not to drivers.
    func commit(name: String) throws -> CommitOutcome
    /// Throws away what was written. Safe to call after a failed commit.
    func abort()
}
