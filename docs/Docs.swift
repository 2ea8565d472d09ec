/// The Markdown of this directory, compiled into walvault-server, which renders it as the
/// dashboard's Docs page: the same text as the repository's, never a copy to keep in step.
public enum Docs {
    public struct Document: Sendable {
        /// The file's name without `.md`: the page's path, `/docs/<name>`.
        public let name: String
        public let markdown: String
    }

    public static let all: [Document] = [
        Document(name: "backup-strategy", markdown: String(decoding: PackageResources.backup_strategy_md, as: UTF8.self)),
        Document(name: "admin-guide", markdown: String(decoding: PackageResources.admin_guide_md, as: UTF8.self)),
        Document(name: "restore", markdown: String(decoding: PackageResources.restore_md, as: UTF8.self)),
        Document(name: "cloud-setup", markdown: String(decoding: PackageResources.cloud_setup_md, as: UTF8.self)),
        Document(name: "disaster-recovery", markdown: String(decoding: PackageResources.disaster_recovery_md, as: UTF8.self)),
        Document(name: "encryption", markdown: String(decoding: PackageResources.encryption_md, as: UTF8.self)),
        Document(name: "troubleshooting", markdown: String(decoding: PackageResources.troubleshooting_md, as: UTF8.self)),
    ]
}
