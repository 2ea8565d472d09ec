import WalvaultSystem

/// Where the config comes from: `--config`, else `$WALVAULT_CONFIG`, else the system default.
public enum ConfigLocation {
    public static let environmentVariable = "WALVAULT_CONFIG"
    public static let defaultPath = "/etc/walvault/walvault.toml"

    public static func resolve(explicit: String?, environment: (String) -> String? = Environment.value) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let fromEnv = environment(environmentVariable), !fromEnv.isEmpty { return fromEnv }
        return defaultPath
    }
}
