import WalvaultCatalog
import WalvaultSystem

/// What `walvault --version` says: what a bug report needs, and which servers this build protects.
/// The commit and date come from a file BuildInfoPlugin writes before each build.
public enum BuildInfo {
    /// The git commit (12 hex digits), with "+changes" when built from a modified work tree;
    /// "unknown" outside a git checkout.
    public static var commit: String { GeneratedBuildInfo.commit }
    /// When this commit was first built on this machine, in UTC.
    public static var date: String { GeneratedBuildInfo.date }

    public static var versionText: String {
        """
        walvault \(WalvaultVersion.number)
        commit \(commit)
        built \(date)
        supports \(SupportedPostgres.description)
        """
    }
}
