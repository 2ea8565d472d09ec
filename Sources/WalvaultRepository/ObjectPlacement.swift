import WalvaultStores

/// One content per original name: a WAL file archived again with other bytes must be refused,
/// never stored beside the first. Drivers only "create this exact key unless it exists" (S3
/// cannot check a prefix atomically, Telegram not at all), so the policy lives here, the same
/// for every store:
/// 1. anything under the prefix already? Then nothing is written; the caller judges what is there.
/// 2. create the exact key.
/// 3. look again. A writer that raced us with *other content* makes ours a conflict: we delete
///    our own object (where the store can) and report what is there, so two contents are never
///    both reported stored. Racers with the *same content* (the checksum in the name) are kept:
///    readers treat identical copies as one file.
/// A writer never deletes an object after reporting it stored, and only ever deletes its own:
/// whatever was reported stored stays.
public enum ObjectPlacement {
    public static func commit(
        _ writer: ObjectWriter, store: Store, directory: String, name: String,
        unlessPrefixTaken prefix: String
    ) throws -> CommitOutcome {
        let before: [StoreObject]
        do {
            before = try store.list(directory: directory, namePrefix: prefix)
        } catch {
            writer.abort()
            throw error
        }
        guard before.isEmpty else {
            writer.abort()
            return .alreadyPresent(before)
        }
        let ours: StoreObject
        switch try writer.commit(name: name) {
        case .alreadyPresent(let objects): return .alreadyPresent(objects)
        case .stored(let object): ours = object
        }
        let others = try store.list(directory: directory, namePrefix: prefix).filter { $0.key != ours.key }
        let content = StoredObjectName(name)?.sha256
        guard others.contains(where: { StoredObjectName($0.name)?.sha256 != content || content == nil }) else { return .stored(ours) }
        if store.capabilities.contains(.deletion) { try store.delete(key: ours.key) }
        return .alreadyPresent(others)
    }
}
