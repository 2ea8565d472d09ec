import WalvaultSystem

/// Why an object could not be decrypted. Kept apart from PipelineError so that callers can
/// tell "wrong key or damage" (try another copy) from "this store is not what the config
/// says" (a mistake to explain, never to work around).
public struct EncryptionError: Problem, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The key check or a chunk's tag failed, or the framing is broken.
        case wrongPassphraseOrDamaged
        /// [encryption] is configured, but the object is plaintext.
        case notEncrypted
        /// The object is encrypted, but no [encryption] is configured.
        case encryptedWithoutKey
        /// A header this walvault does not read (newer version, unknown cipher).
        case unsupported
    }

    public let kind: Kind

    public var errorCode: String {
        switch kind {
        case .wrongPassphraseOrDamaged: return "encryption.undecryptable"
        case .notEncrypted: return "encryption.not_encrypted"
        case .encryptedWithoutKey: return "encryption.no_key"
        case .unsupported: return "encryption.unsupported"
        }
    }
    /// How messages name the object: "main/wal/… in store \"local\"" or a file path.
    public let object: String
    public let problem: String
    public let fix: String

    /// The key check failed: the passphrase is wrong, or the header is damaged; nothing tells which.
    public static func wrongPassphraseOrDamaged(_ object: String, detail: String) -> EncryptionError {
        EncryptionError(
            kind: .wrongPassphraseOrDamaged, object: object,
            problem: "cannot decrypt \(object): wrong passphrase or corrupted data",
            fix: detail)
    }

    /// The object itself is short or altered: said as such, because the passphrase is not in doubt
    /// (the key check passed) or not involved (too short to hold a header). Another copy may be good.
    public static func damaged(_ object: String, _ what: String, fix: String) -> EncryptionError {
        EncryptionError(kind: .wrongPassphraseOrDamaged, object: object, problem: "cannot decrypt \(object): the object is \(what)", fix: fix)
    }

    public static func notEncrypted(_ object: String) -> EncryptionError {
        EncryptionError(
            kind: .notEncrypted, object: object,
            problem: "\(object) is not encrypted, but [encryption] is configured",
            fix:
                "it was written without encryption: read it with a config that has no [encryption], or give encrypted archives a new store or [cluster] name (see docs/encryption.md)"
        )
    }

    public static func encryptedWithoutKey(_ object: String) -> EncryptionError {
        EncryptionError(
            kind: .encryptedWithoutKey, object: object,
            problem: "\(object) is encrypted, but no [encryption] is configured",
            fix: "add [encryption] with passphrase_file or passphrase_env holding the passphrase it was written with (see docs/encryption.md)")
    }

    public static func unsupported(_ object: String, _ what: String) -> EncryptionError {
        EncryptionError(
            kind: .unsupported, object: object,
            problem: "cannot decrypt \(object): its encryption header uses \(what)",
            fix: "it was written by a newer walvault, or its header is damaged: upgrade walvault or use another store's copy")
    }
}
