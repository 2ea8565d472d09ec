/// `[encryption]`: where the passphrase comes from. The passphrase itself is never in the
/// config, so the config can be shown, diffed and backed up without leaking it.
public struct EncryptionSettings: Sendable, Equatable {
    public enum PassphraseSource: Sendable, Equatable {
        case file(String)
        case environment(String)
    }

    public enum KeyCacheSetting: Sendable, Equatable {
        /// The per-user cache directory goes under this directory.
        case under(String)
        case off
    }

    public var passphrase: PassphraseSource
    public var keyCache: KeyCacheSetting

    public static let defaultKeyCacheParent = "/dev/shm"

    public init(passphrase: PassphraseSource, keyCache: KeyCacheSetting = .under(EncryptionSettings.defaultKeyCacheParent)) {
        self.passphrase = passphrase
        self.keyCache = keyCache
    }
}
