import WalvaultCatalog
import WalvaultKit
import WalvaultPipeline
import WalvaultRepository
import WalvaultStores
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

public struct FilesRestoreOptions: Sendable {
    public var name: String
    /// A snapshot ID as `files list` shows it; nil: the newest, or the newest at `asOf`.
    public var snapshot: String?
    /// µs since the epoch: the newest snapshot taken at or before it.
    public var asOf: Int64?
    /// One file or directory of the tree, relative to its root; nil: the whole tree.
    public var path: String?
    public var into: String
    public var force: Bool
    /// Read from this store only; nil: the first store that holds the snapshot, sync stores first.
    public var store: String?

    public init(
        name: String, snapshot: String? = nil, asOf: Int64? = nil, path: String? = nil, into: String, force: Bool = false, store: String? = nil
    ) {
        self.name = name
        self.snapshot = snapshot
        self.asOf = asOf
        self.path = path
        self.into = into
        self.force = force
        self.store = store
    }
}

public struct FilesRestoreResult: Codable, Equatable, Sendable {
    public let name: String
    public let id: String
    public let store: String
    public let into: String
    public let files: Int
    public let directories: Int
    public let symlinks: Int
    public let bytes: Int
    public let packsRead: Int
    public let inconsistent: [String]
    public let seconds: Double

    public var lines: [String] {
        [
            "restored files snapshot \(name)/\(id) from store \"\(store)\" into \(into): \(files) files, \(directories) directories, \(symlinks) symlinks, \(FilesText.size(bytes)) in \(String(format2: seconds)) s; every chunk and every file checksum-verified"
        ]
            + inconsistent.map { "\($0) changed while it was backed up: restored as last read" }
    }
}

/// `walvault files restore`: a snapshot, or one file or directory of it, into a directory. Every
/// chunk is checked against its name as it is decoded, every file against its SHA-256 once
/// written; content, mode, mtime and (as root) owner are the snapshot's. Files are written where
/// they go, by reading each pack once, in name order.
public struct FilesRestore {
    public let context: WalvaultContext
    public let options: FilesRestoreOptions

    public init(context: WalvaultContext, options: FilesRestoreOptions) {
        self.context = context
        self.options = options
    }

    public func run(events: OperationObserver = IgnoredEvents()) throws -> FilesRestoreResult {
        try events.run("files-restore", type: .storage, subject: options.name, summary: { _ in ([], nil) }) {
            try restore(events: events)
        }
    }

    private func restore(events: OperationObserver) throws -> FilesRestoreResult {
        let clock = Stopwatch()
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        let catalog = FilesCatalog(layout: layout)
        let selection = try options.path.map(Self.selection) ?? []
        let snapshot = try find(catalog)
        let target = try FilesDestination.prepare(options.into, force: options.force)
        events.receive(.progressed(note: "reading snapshot \(options.name)/\(snapshot.id) from store \"\(snapshot.store.name)\""))
        let opened = try catalog.open(snapshot)
        let keys = try context.keyRing.map { try ChunkKeys.derive(keyRing: $0, repository: context.config.cluster.name) } ?? .unkeyed
        guard opened.header.chunkNames == keys.scheme else {
            throw CommandError(
                problem:
                    "snapshot \(options.name)/\(snapshot.id) names its chunks by \(opened.header.chunkNames), and this config by \(keys.scheme)",
                fix: "restore with the [encryption] section the snapshot was taken with", errorCode: "config.invalid")
        }
        let writer = TreeWriter(root: target, force: options.force)
        do {
            return try restore(
                opened, snapshot: snapshot, selection: selection, keys: keys, layout: layout, writer: writer, events: events, clock: clock)
        } catch {
            writer.abandon()
            throw error
        }
    }

    private func restore(
        _ opened: OpenedSnapshot, snapshot: FilesCatalog.SnapshotObject, selection: [UInt8], keys: ChunkKeys, layout: ArchiveLayout,
        writer: TreeWriter, events: OperationObserver, clock: Stopwatch
    ) throws -> FilesRestoreResult {
        var plan = ChunkPlan()
        var inconsistent: [String] = []
        var found = selection.isEmpty
        while let entry = try opened.next() {
            guard Self.selects(entry.path, selection) else { continue }
            try events.cancellation.check("files restore")
            if entry.path == selection { found = true }
            let file = try writer.create(entry, parentsOf: selection, chunkIDs: entry.chunks.map { opened.table.ids[$0] })
            if let file {
                var offset = 0
                for chunk in entry.chunks {
                    plan.need(chunk, file: file, offset: offset)
                    offset += opened.table.locations[chunk].length
                }
                if entry.inconsistent { inconsistent.append(TreePath.shown(entry.path)) }
            }
        }
        guard found else {
            throw CommandError(
                problem: "snapshot \(options.name)/\(snapshot.id) has nothing at \(options.path ?? "")",
                fix: "give a path relative to the tree's root, as it was when the snapshot was taken", errorCode: "input.invalid")
        }
        let packs = try plan.read(
            table: opened.table, from: snapshot.store, layout: layout, keys: keys, writer: writer, cancellation: events.cancellation)
        try writer.finish(cancellation: events.cancellation)
        return FilesRestoreResult(
            name: options.name, id: snapshot.id, store: snapshot.store.name, into: options.into, files: writer.files, directories: writer.directories,
            symlinks: writer.symlinks, bytes: writer.bytes, packsRead: packs, inconsistent: inconsistent, seconds: clock.seconds)
    }

    /// The snapshot the options name, from the first store that holds it.
    private func find(_ catalog: FilesCatalog) throws -> FilesCatalog.SnapshotObject {
        var stores = context.storesSyncFirst
        if let name = options.store {
            stores = stores.filter { $0.name == name }
            guard !stores.isEmpty else {
                throw CommandError(
                    problem: "no store is named \"\(name)\"", fix: "use one of \(context.stores.map { "\"\($0.name)\"" }.joined(separator: ", "))",
                    errorCode: "input.invalid")
            }
        }
        var seen: [String] = []
        for store in stores {
            let snapshots = try catalog.snapshots(of: options.name, in: store)
            seen += snapshots.map(\.id)
            let chosen: FilesCatalog.SnapshotObject?
            if let id = options.snapshot {
                chosen = snapshots.first { $0.id == id }
            } else if let asOf = options.asOf {
                chosen = snapshots.last { UTCTime.parseCompact($0.id)! <= asOf }
            } else {
                chosen = snapshots.last
            }
            if let chosen { return chosen }
        }
        let wanted =
            options.snapshot.map { "snapshot \($0)" } ?? options.asOf.map { "a snapshot taken at or before \(UTCTime.compact($0))" } ?? "a snapshot"
        throw CommandError(
            problem: "no store holds \(wanted) of \"\(options.name)\"",
            fix: seen.isEmpty
                ? "check --name (walvault files list shows the trees and their snapshots)"
                : "choose one of \(Set(seen).sorted().suffix(5).joined(separator: ", ")) (walvault files list)", errorCode: "input.invalid")
    }

    static func selection(_ path: String) throws -> [UInt8] {
        var bytes = Array(path.utf8)
        while bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
        while bytes.first == UInt8(ascii: "/") { bytes.removeFirst() }
        guard !bytes.isEmpty, TreePath.isValid(bytes) else {
            throw CommandError(
                problem: "--path \(path) is not a path inside the tree", fix: "give it relative to the tree's root, without . or ..",
                errorCode: "input.invalid")
        }
        return bytes
    }

    /// The selection itself, what is under it, and the directories above it (created, so it has somewhere to go).
    static func selects(_ path: [UInt8], _ selection: [UInt8]) -> Bool {
        selection.isEmpty || path == selection || TreePath.isAncestor(selection, of: path) || TreePath.isAncestor(path, of: selection)
    }
}
