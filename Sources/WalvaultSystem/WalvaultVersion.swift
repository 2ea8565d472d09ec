/// walvault's release number: `--version`, the package's version, and every backup manifest,
/// which records which walvault wrote it.
public enum WalvaultVersion {
    public static let number = "0.1.0"
}
