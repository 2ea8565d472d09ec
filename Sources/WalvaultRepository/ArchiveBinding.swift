import WalvaultCatalog
import WalvaultPipeline
import WalvaultStores

/// Reads and creates a store's `archive.info` pair and checks an identity against it.
public enum ArchiveBinding {
    /// The identity the store is bound to for this cluster, or nil when nothing was pushed yet.
    public static func load(store: Store, layout: ArchiveLayout) throws -> ArchiveInfo? {
        try read(store: store, layout: layout)?.info
    }

    /// The identity, and which of the pair is missing (a crash between the two writes), so that
    /// only a missing file is written again: every push reads the pair, and writing it each time
    /// would cost a file, an fsync and an encryption per segment.
    static func read(store: Store, layout: ArchiveLayout) throws -> (info: ArchiveInfo, missing: [String])? {
        let main = try decode(store: store, key: layout.infoKey)
        let copy = try decode(store: store, key: layout.infoCopyKey)
        switch (main, copy) {
        case (nil, nil):
            return nil
        case (.success(let info), nil):
            return (info, [layout.infoCopyKey])
        case (nil, .success(let info)):
            return (info, [layout.infoKey])
        case (.success(let a), .success(let b)):
            guard a == b else {
                throw CatalogError(
                    problem: "store \"\(store.name)\": \(layout.infoKey) and \(layout.infoCopyKey) disagree",
                    fix: "one of them was edited or damaged; compare them and restore the right one by hand")
            }
            return (a, [])
        case (.success(let info), .failure), (.failure, .success(let info)):
            // The damaged one is left for a person to look at; it is never overwritten.
            return (info, [])
        case (.failure(.undecryptable(let error)), _), (_, .failure(.undecryptable(let error))):
            // Both copies fail: with a wrong passphrase both always do, so say that, not "damaged".
            throw error
        case (.failure(let problem), _), (_, .failure(let problem)):
            throw CatalogError(
                problem: "store \"\(store.name)\": \(layout.infoKey) is unreadable: \(problem)",
                fix: "restore it from \(layout.infoCopyKey) or from a copy of the store")
        }
    }

    /// Each of the pair on its own, for verify: what `load` forgives (one damaged or missing copy)
    /// is still a problem to report, with the key.
    public static func audit(store: Store, layout: ArchiveLayout) -> (info: ArchiveInfo?, problems: [(key: String, problem: String)]) {
        var problems: [(key: String, problem: String)] = []
        var found: [ArchiveInfo] = []
        for key in [layout.infoKey, layout.infoCopyKey] {
            do {
                switch try decode(store: store, key: key) {
                case nil: problems.append((key, "missing"))
                case .success(let info)?: found.append(info)
                case .failure(let problem)?: problems.append((key, "unreadable: \(problem)"))
                }
            } catch {
                problems.append((key, "cannot be read: \(error)"))
            }
        }
        if found.count == 2, found[0] != found[1] { problems.append((layout.infoCopyKey, "disagrees with \(layout.infoKey)")) }
        return (found.first, problems)
    }

    /// Binds an unbound store to `identity`, or checks that a bound one matches it.
    public static func ensure(store: Store, layout: ArchiveLayout, identity: ClusterIdentity, what: String) throws {
        if let (existing, missing) = try read(store: store, layout: layout) {
            try check(existing.identity, against: identity, store: store, layout: layout, what: what)
            for key in missing { _ = try store.createSmall(key: key, contents: existing.encoded()) }
            return
        }
        let info = ArchiveInfo(identity: identity)
        if !(try store.createSmall(key: layout.infoKey, contents: info.encoded())) {
            // Another process bound it first; it must have bound it to the same cluster.
            if let winner = try load(store: store, layout: layout) {
                try check(winner.identity, against: identity, store: store, layout: layout, what: what)
            }
        }
        _ = try store.createSmall(key: layout.infoCopyKey, contents: info.encoded())
    }

    static func check(
        _ bound: ClusterIdentity, against identity: ClusterIdentity, store: Store,
        layout: ArchiveLayout, what: String
    ) throws {
        guard bound != identity else { return }
        throw CatalogError(
            problem: "\(what) comes from a cluster with \(identity), but store \"\(store.name)\" holds cluster \"\(layout.cluster)\" with \(bound)",
            fix: "this is another cluster's WAL: set a new [cluster] name for a new or re-initialised cluster, or fix archive_command's --config")
    }

    enum Unreadable: Error, CustomStringConvertible {
        case undecodable(ArchiveInfo.DecodeProblem)
        case undecryptable(EncryptionError)

        var description: String {
            switch self {
            case .undecodable(let problem): return "\(problem)"
            case .undecryptable(let error): return error.problem
            }
        }
    }

    /// A copy that cannot be decrypted counts as damaged, so the other copy can stand in;
    /// a store/config encryption mismatch is thrown at once, since the copy has it too.
    private static func decode(store: Store, key: String) throws -> Result<ArchiveInfo, Unreadable>? {
        let bytes: [UInt8]
        do {
            guard let read = try store.readSmall(key: key) else { return nil }
            bytes = read
        } catch let error as EncryptionError where error.kind == .wrongPassphraseOrDamaged {
            return .failure(.undecryptable(error))
        }
        do { return .success(try ArchiveInfo(decoding: bytes)) } catch { return .failure(.undecodable(error)) }
    }
}
