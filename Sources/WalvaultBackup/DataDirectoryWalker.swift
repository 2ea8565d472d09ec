import WalvaultCatalog
import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Walks a data directory and its tablespaces in a stable order, applying `BackupExclusions`,
/// and lists what a backup holds: directories and links as they are, files to be copied.
package struct DataDirectoryWalker {
    package enum Item {
        case entry(BackupManifest.Entry)
        /// Copied later, by one of the backup's packers; `size` is as listed (for scheduling only).
        case file(path: String, relative: String, mode: UInt32, size: Int)
    }

    package let root: String

    package func walk() throws -> (items: [Item], tablespaces: [BackupManifest.Tablespace]) {
        var items: [Item] = []
        var tablespaces: [BackupManifest.Tablespace] = []
        try walkDirectory(absolute: root, relative: "", entries: &items, tablespaces: &tablespaces)
        return (items, tablespaces)
    }

    private func walkDirectory(
        absolute: String, relative: String, entries: inout [Item],
        tablespaces: inout [BackupManifest.Tablespace]
    ) throws {
        let names: [String]
        do {
            names = try FileSystem.listDirectory(absolute).sorted()
        } catch let error as SystemError where error.code == ENOENT && !relative.isEmpty {
            return  // dropped while we walked
        }
        for name in names {
            let path = Paths.join(absolute, name)
            let rel = relative.isEmpty ? name : relative + "/" + name
            if rel == BackupExclusions.controlFile { continue }
            guard let status = try FileSystem.status(path) else { continue }
            switch status.kind {
            case .directory:
                switch BackupExclusions.decide(rel, isDirectory: true) {
                case .skip: continue
                case .includeEmpty:
                    entries.append(.entry(.init(path: rel, kind: .directory, mode: status.mode)))
                case .include:
                    entries.append(.entry(.init(path: rel, kind: .directory, mode: status.mode)))
                    try walkDirectory(absolute: path, relative: rel, entries: &entries, tablespaces: &tablespaces)
                }
            case .file:
                guard BackupExclusions.decide(rel, isDirectory: false) == .include else { continue }
                entries.append(.file(path: path, relative: rel, mode: status.mode, size: status.size))
            case .symlink:
                let target = try FileSystem.readLink(path)
                if relative == "pg_tblspc" {
                    tablespaces.append(.init(oid: name, location: target))
                    entries.append(.entry(.init(path: rel, kind: .symlink, mode: 0o777, target: target)))
                    try walkDirectory(absolute: target, relative: rel, entries: &entries, tablespaces: &tablespaces)
                } else if BackupExclusions.decide(rel, isDirectory: true) == .includeEmpty {
                    // pg_wal on another disk: restored as a plain directory, not a link to the old disk.
                    entries.append(.entry(.init(path: rel, kind: .directory, mode: 0o700)))
                } else {
                    entries.append(.entry(.init(path: rel, kind: .symlink, mode: 0o777, target: target)))
                }
            case .other:
                continue
            }
        }
    }
}
