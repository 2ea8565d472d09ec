import WalvaultSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Derived master keys kept between processes. PostgreSQL starts one archive-push per WAL
/// segment, and PBKDF2 at 600,000 iterations costs about a quarter of a second, five times
/// the push itself; so the derived key is kept in a file only this user can read, in a
/// memory-backed directory (/dev/shm by default) that never reaches a disk or a backup and is
/// gone after a reboot. Whoever can read it can decrypt the stores, exactly like whoever
/// can read the passphrase file, which sits on the same machine with the same owner.
///
/// Each line: `v1 <iterations> <KDF salt hex> <check hex> <key hex>`. The check is
/// HMAC-SHA256(key, "walvault key cache v1" || passphrase): an entry is used only if the
/// configured passphrase is the one it was derived from, so a changed passphrase is never
/// served a stale key.
public struct KeyCache: Sendable {
    public let directory: String
    var file: String { Paths.join(directory, "derived-keys") }
    static let maxEntries = 8
    static let checkLabel = Array("walvault key cache v1".utf8)

    /// The cache directory for this user under `parent`, created private if missing.
    /// Refuses (with a warning for the caller to print) a directory that another user could
    /// read or replace, rather than put a key there.
    public static func open(parent: String) -> (cache: KeyCache?, warning: String?) {
        let directory = Paths.join(parent, "walvault-\(geteuid())")
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            let error = SystemError("create", path: directory)
            return (
                nil,
                "the derived-key cache is off (\(error)): every run derives the key again, about 0.25 s; fix [encryption] key_cache or set it to \"off\""
            )
        }
        let status = try? FileSystem.status(directory)
        guard let status, status.kind == .directory, status.owner == geteuid(), status.mode & 0o077 == 0 else {
            let found =
                status.map { $0.kind == .directory ? "it has owner uid \($0.owner) and mode \(String($0.mode, radix: 8))" : "it is not a directory" }
                ?? "it cannot be read"
            return (
                nil,
                "the derived-key cache is off: \(directory) is not a directory private to this user: \(found), where it must be owned by uid \(geteuid()) (this user) with mode 700; remove it, or set [encryption] key_cache elsewhere or to \"off\""
            )
        }
        return (KeyCache(directory: directory), nil)
    }

    struct Entry {
        let iterations: Int
        let salt: [UInt8]
        let check: [UInt8]
        let key: SecretBytes
    }

    /// Entries derived from this passphrase, newest first.
    func entries(passphrase: SecretBytes) -> [Entry] {
        var text = readFile()
        defer { SecretBytes.wipe(&text) }
        var entries: [Entry] = []
        for line in text.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "))
            guard fields.count == 5, fields[0].elementsEqual("v1".utf8),
                let iterations = Int(String(decoding: fields[1], as: UTF8.self)),
                let salt = Hex.decode(String(decoding: fields[2], as: UTF8.self)), salt.count == EncryptionHeader.kdfSaltSize,
                let check = Hex.decode(String(decoding: fields[3], as: UTF8.self)), check.count == 32,
                var keyBytes = Hex.decode(String(decoding: fields[4], as: UTF8.self))
            else { continue }
            defer { SecretBytes.wipe(&keyBytes) }
            guard keyBytes.count == 32 else { continue }
            let key = keyBytes.withUnsafeBytes { SecretBytes(copying: $0) }
            guard Self.check(key: key, passphrase: passphrase) == check else { continue }
            entries.append(Entry(iterations: iterations, salt: salt, check: check, key: key))
        }
        return entries
    }

    static func check(key: SecretBytes, passphrase: SecretBytes) -> [UInt8] {
        var message = checkLabel
        passphrase.withUnsafeBytes { message.append(contentsOf: $0) }
        defer { SecretBytes.wipe(&message) }
        return KeyDerivation.hmacSHA256(key: key, message: message)
    }

    /// Best effort: a cache that cannot be written only costs time.
    func save(_ key: MasterKey, passphrase: SecretBytes) {
        var old = readFile()
        defer { SecretBytes.wipe(&old) }
        let saltHex = Array(Hex.encode(key.salt).utf8)
        var lines: [[UInt8]] = [
            Array("v1 \(key.iterations) ".utf8) + saltHex + Array(" \(Hex.encode(Self.check(key: key.key, passphrase: passphrase))) ".utf8)
                + key.key.withUnsafeBytes { Array(Hex.encode($0).utf8) }
        ]
        for line in old.split(separator: UInt8(ascii: "\n")) where lines.count < Self.maxEntries {
            let fields = line.split(separator: UInt8(ascii: " "))
            guard fields.count == 5, !(fields[1].elementsEqual("\(key.iterations)".utf8) && fields[2].elementsEqual(saltHex)) else { continue }
            lines.append(Array(line))
        }
        var contents = lines.joined(separator: [UInt8(ascii: "\n")]) + [UInt8(ascii: "\n")]
        for i in lines.indices { SecretBytes.wipe(&lines[i]) }
        defer { SecretBytes.wipe(&contents) }
        try? FileSystem.writeAtomically(file, contents: contents, mode: 0o600)
    }

    private func readFile() -> [UInt8] {
        guard let fd = try? FileDescriptor.open(file, flags: O_RDONLY | O_NOFOLLOW) else { return [] }
        return (try? fd.readToEnd(limit: 64 << 10)) ?? []
    }
}
