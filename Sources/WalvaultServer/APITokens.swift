import Crypto
import Synchronization
import WalvaultKit
import WalvaultSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Tokens for automation (a deploy script taking a backup before a migration, a monitor reading
/// the jobs): made and revoked by the owner in the dashboard, scoped `read` (GET only) or
/// `owner`, shown once, kept only as their SHA-256 in a 0600 file beside the owner's password
/// hash (`api-tokens.json`), and listed with their last use (saved at most once a minute).
public final class APITokens: Sendable {
    public enum Scope: String, Codable, Sendable { case read, owner }

    public struct Record: Codable, Equatable, Sendable {
        public let id: String
        public let name: String
        public let scope: Scope
        /// SHA-256 of the token, hex: what is kept instead of it.
        public let digest: String
        public let createdAt: Int64
        public let createdBy: String
        public var lastUsedAt: Int64?
    }

    /// What the list shows: never the digest.
    public struct Listed: Encodable, Sendable {
        let id: String
        let name: String
        let scope: Scope
        let createdAt: Int64
        let createdBy: String
        let lastUsedAt: Int64?
    }

    static let prefix = "wvt_"
    public let path: String
    private let records: Mutex<[Record]>
    private let lastSaved = Mutex<Int64>(0)

    init(path: String, records: [Record]) {
        self.path = path
        self.records = Mutex(records)
    }

    /// The tokens in `path`; none when the file does not exist yet. A file others may read, or
    /// that another user owns, is refused by name, like the owner's secrets.
    public static func load(path: String) throws -> APITokens {
        guard FileSystem.exists(path) else { return APITokens(path: path, records: []) }
        _ = try OwnerCredentials.readSecret(path, key: "the dashboard's API tokens", writtenBy: "the dashboard (Tokens)")
        let bytes = try FileSystem.readSmallFile(path, limit: 1 << 20)
        guard let records = try? JSONDecoder().decode([Record].self, from: Data(bytes)) else {
            throw CommandError(
                problem: "\(path) (the dashboard's API tokens) is not the JSON walvault writes",
                fix: "move it aside; the tokens in it must then be made again", errorCode: "config.invalid")
        }
        return APITokens(path: path, records: records)
    }

    public func list() -> [Listed] {
        records.withLock {
            $0.map { Listed(id: $0.id, name: $0.name, scope: $0.scope, createdAt: $0.createdAt, createdBy: $0.createdBy, lastUsedAt: $0.lastUsedAt) }
        }
    }

    /// A new token: returned once, never stored.
    public func create(name: String, scope: Scope, by: String, now: Int64) throws -> (token: String, listed: Listed) {
        let token = Self.prefix + SessionStore.randomToken()
        let record = Record(
            id: String(SessionStore.digest(SessionStore.randomToken()).prefix(12)), name: name, scope: scope, digest: SessionStore.digest(token),
            createdAt: now, createdBy: by, lastUsedAt: nil)
        try records.withLock { records in
            records.append(record)
            try save(records)
        }
        return (token, Listed(id: record.id, name: name, scope: scope, createdAt: now, createdBy: by, lastUsedAt: nil))
    }

    /// false when there is no such token.
    public func revoke(id: String) throws -> Bool {
        try records.withLock { records in
            guard let index = records.firstIndex(where: { $0.id == id }) else { return false }
            records.remove(at: index)
            try save(records)
            return true
        }
    }

    /// The live token's record, its last use noted; nil for anything else. Looked up by digest,
    /// so the comparison never runs over the token's own bytes.
    public func authenticate(_ token: String, now: Int64) -> Record? {
        guard token.hasPrefix(Self.prefix) else { return nil }
        let digest = SessionStore.digest(token)
        return records.withLock { records -> Record? in
            guard let index = records.firstIndex(where: { $0.digest == digest }) else { return nil }
            records[index].lastUsedAt = now
            let due = lastSaved.withLock { last -> Bool in
                guard now - last >= 60 else { return false }
                last = now
                return true
            }
            if due { try? save(records) }
            return records[index]
        }
    }

    private func save(_ records: [Record]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try FileSystem.writeAtomically(path, contents: Array(try encoder.encode(records)) + [10], mode: 0o600)
    }
}
