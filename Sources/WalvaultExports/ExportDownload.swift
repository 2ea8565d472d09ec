import WalvaultCatalog
import WalvaultKit
import WalvaultRepository
import WalvaultSystem

/// A stored dump or log export for a person to download: fetched whole, decrypted, decompressed
/// by nothing (the file is what pg_dump or the export wrote), and checked against its checksum
/// before its first byte is handed on; held in an unnamed file that vanishes when closed.
/// Unchecked: the file has one user at a time, handed from the thread that fetched it to the one
/// that streams it, never shared.
public struct ExportDownload: @unchecked Sendable {
    public let file: FileDescriptor
    /// `shop_20261204T031500Z.dump`: what the browser saves it as.
    public let fileName: String
    public let size: Int

    /// - Parameter id: `<schema>/<time>` (a dump) or `<table>/<time>` (a log export).
    public static func open(context: WalvaultContext, id: String) throws -> ExportDownload {
        let layout = ArchiveLayout(cluster: context.config.cluster.name)
        let export = try ExportListing.find(id: id, in: ExportListing.all(stores: context.stores, layout: layout).map(\.export))
        let directory = try context.trustedSpool ?? "/var/tmp"
        let (file, _) = try DumpRestore.fetchVerified(export, stores: context.stores, directory: directory, warn: { _ in })
        let size = try file.size()
        let name = "\(export.subject)_\(export.name.stamp).\(export.name.format.fileExtension)"
        return ExportDownload(file: file, fileName: name, size: size)
    }
}
