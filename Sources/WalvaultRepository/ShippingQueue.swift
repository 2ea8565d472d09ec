import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// What walvault still owes one async store, durably on the local disk: one small file per object,
/// named `<queued µs>-<stored bytes>-<random>` (so a listing alone gives the order, the backlog in
/// bytes and the oldest entry's age) and holding the object's key. An entry is written under a
/// temporary name, fsynced, renamed and the directory fsynced before archive-push returns; it is
/// removed only after the async store holds the object. A crash at any point leaves either a
/// queued entry (shipped again: the copy is create-unless-present, so that is harmless) or
/// nothing left to do; never an entry gone with its object missing.
public struct ShippingQueue: Sendable {
    public let directory: String

    public struct Entry: Equatable, Comparable, Sendable {
        public let fileName: String
        public let queuedAt: Int64
        public let size: Int

        public static func < (a: Entry, b: Entry) -> Bool { (a.queuedAt, a.fileName) < (b.queuedAt, b.fileName) }

        public init?(fileName: String) {
            let fields = fileName.split(separator: "-")
            guard fields.count == 3, fields[0].count == 16, let at = Int64(fields[0]), let size = Int(fields[1]) else { return nil }
            self.fileName = fileName
            queuedAt = at
            self.size = size
        }
    }

    /// The queue for `store` under `spool`, created on first use inside an existing spool.
    public static func open(spool: String, store: String) throws -> ShippingQueue {
        guard FileSystem.isDirectory(spool) else {
            throw RepositoryError(
                problem: "the spool directory \(spool) does not exist",
                fix: "create it, owned by the postgres user: install -d -o postgres -m 700 \(spool)")
        }
        let directory = Paths.join(Paths.join(spool, "queue"), store)
        do {
            try FileSystem.makeDirectories(directory, mode: 0o700)
        } catch let error as SystemError {
            throw RepositoryError(
                problem: "cannot create the shipping queue \(directory): \(error.reason)",
                fix: "make \(spool) writable by the user running walvault (the postgres user)")
        }
        return ShippingQueue(directory: directory)
    }

    public func enqueue(key: String, size: Int, at micros: Int64 = WallClock.nowMicros()) throws {
        let digits = String(micros)
        let name =
            String(repeating: "0", count: max(0, 16 - digits.count)) + digits + "-\(size)-"
            + Hex.encode((0..<4).map { _ in UInt8.random(in: 0...255) })
        do {
            let temporary = Paths.join(directory, ".tmp-" + name)
            let file = try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            try file.writeAll(Array((key + "\n").utf8))
            try file.sync()
            try file.close()
            try FileSystem.rename(temporary, to: Paths.join(directory, name))
            try FileSystem.syncDirectory(directory)
        } catch let error as SystemError {
            throw RepositoryError(
                problem: "cannot queue \(key) in \(directory): \(error.reason)", fix: error.hint ?? "check the spool's disk and permissions")
        }
    }

    /// Oldest first.
    public func entries() throws -> [Entry] {
        do {
            return try FileSystem.listDirectory(directory).compactMap(Entry.init(fileName:)).sorted()
        } catch let error as SystemError {
            throw RepositoryError(
                problem: "cannot read the shipping queue \(directory): \(error.reason)", fix: error.hint ?? "check the spool's permissions")
        }
    }

    /// The object's key; nil when the entry is gone (another shipper took it).
    public func key(of entry: Entry) throws -> String? {
        do {
            let bytes = try FileSystem.readSmallFile(Paths.join(directory, entry.fileName), limit: 4096)
            let key = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
            guard !key.isEmpty else {
                throw RepositoryError(
                    problem: "queue entry \(entry.fileName) in \(directory) is empty", fix: "remove it; ship's catch-up pass finds what it named")
            }
            return key
        } catch let error as SystemError where error.code == ENOENT {
            return nil
        } catch let error as SystemError {
            throw RepositoryError(
                problem: "cannot read queue entry \(entry.fileName) in \(directory): \(error.reason)", fix: "check the spool's permissions")
        }
    }

    /// Only once the async store holds the object durably.
    public func remove(_ entry: Entry) throws {
        do {
            try FileSystem.remove(Paths.join(directory, entry.fileName))
            try FileSystem.syncDirectory(directory)
        } catch let error as SystemError where error.code == ENOENT {
            return
        } catch let error as SystemError {
            throw RepositoryError(
                problem: "cannot remove queue entry \(entry.fileName) from \(directory): \(error.reason)", fix: "check the spool's permissions")
        }
    }

    /// Temporary entries a crash left before their rename: never counted, removed by `ship`.
    public func removeAbandonedTemporaries(olderThanMicros age: Int64 = 600_000_000, now: Int64 = WallClock.nowMicros()) {
        for name in (try? FileSystem.listDirectory(directory)) ?? [] where name.hasPrefix(".tmp-") {
            let path = Paths.join(directory, name)
            if let status = try? FileSystem.status(path), now - status.modifiedAt > age { try? FileSystem.remove(path) }
        }
    }

    /// Set when archive-push could not queue because the queue was full: `ship` then compares
    /// listings to find what was not queued. Its time is also when the user was last warned.
    public var overflowMarker: String { Paths.join(directory, ".overflow") }
}
