import WalvaultPipeline
import WalvaultSystem

/// The catalog names every object and document: with `[encryption]` it is sealed like the
/// objects (same passphrase, same format), and a catalog that disagrees with the config is
/// refused with the reason, as `UnencryptedStore` refuses objects.
enum TelegramCatalogSeal {
    static func seal(_ plain: [UInt8], keyRing: KeyRing?) throws -> [UInt8] {
        guard let keyRing else { return plain }
        return try SealedBytes.seal(plain, keyRing: keyRing)
    }

    static func open(_ bytes: [UInt8], keyRing: KeyRing?, store: String, what: String) throws -> [UInt8] {
        let encrypted = bytes.starts(with: EncryptionHeader.magic)
        guard let keyRing else {
            if encrypted {
                throw StoreError(
                    store: store, kind: .permanent, problem: "\(what) is encrypted and the config has no [encryption]",
                    fix: "add the [encryption] section with the passphrase this store was written with")
            }
            return bytes
        }
        guard encrypted else {
            throw StoreError(
                store: store, kind: .permanent, problem: "\(what) is not encrypted but [encryption] is set",
                fix: "this chat was written without encryption: remove [encryption] to read it, or ship to a new chat")
        }
        return try SealedBytes.open(bytes, object: what + " in store \"\(store)\"", keyRing: keyRing)
    }
}
