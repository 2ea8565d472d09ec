/// The decisions `walvault ship` makes, without I/O: what may go now, and whether a backup is
/// whole in a store. A store must never show a backup it cannot restore, so a manifest waits for
/// everything queued before it (the backup's parts and the WAL its end needs) and then for proof,
/// from the store's own listing, that all of it is there. Generic over the queue's entries and the
/// segment names, which the repository supplies (`ShipPlan+Repository`).
public enum ShipPlan {
    public static func isManifest(_ key: String) -> Bool {
        key.hasSuffix("/backup.manifest") || key.hasSuffix("/backup.manifest.copy")
    }

    /// The order objects are queued in when several are queued at once (a backup, a catch-up):
    /// by key, manifests last, so that their entries are the newest.
    public static func queueingOrder<Object>(_ objects: [Object], key: (Object) -> String) -> [Object] {
        objects.sorted { (isManifest(key($0)) ? 1 : 0, key($0)) < (isManifest(key($1)) ? 1 : 0, key($1)) }
    }

    /// Whether objects of `adding` bytes may join a queue already holding `backlog`, under
    /// `[shipping] max_queue_mb`. All or nothing: a backup is queued whole or not at all (a
    /// catch-up by listing ships what was not queued).
    public static func fits(backlog: Int, adding: Int, limit: Int) -> Bool {
        backlog + adding <= limit
    }

    /// The queue, oldest first, split into what may be shipped in parallel now (everything but
    /// manifests) and the manifests that nothing older still waits before.
    public static func ready<Entry: Comparable>(_ queue: [(entry: Entry, key: String)])
        -> (objects: [(entry: Entry, key: String)], manifests: [(entry: Entry, key: String)])
    {
        let objects = queue.filter { !isManifest($0.key) }
        let oldestObject = objects.map(\.entry).min()
        let manifests = queue.filter { item in
            isManifest(item.key) && oldestObject.map { item.entry < $0 } ?? true
        }
        return (objects, manifests)
    }

    /// What a store still lacks of a backup, given its parts and the segments its end needs, and
    /// what the store's backup directory and WAL hold; empty when the manifest may go.
    public static func missing<Segment: Hashable & CustomStringConvertible>(
        parts: [String], partsPresent: Set<String>, segments: [Segment], segmentsPresent: Set<Segment>
    ) -> [String] {
        parts.filter { !partsPresent.contains($0) } + segments.filter { !segmentsPresent.contains($0) }.map(\.description)
    }

    /// Whether a shipper should make a deferred-commit store's objects durable now (Telegram:
    /// send the open document and a catalog). Waiting lets objects that arrive close together
    /// share one document, which is what keeps a busy server inside the chat's message limit;
    /// waiting too long only delays the off-site copy.
    /// - Parameters:
    ///   - oldestUnflushedAge: seconds since the oldest object not yet durable was taken.
    ///   - newestQueuedAge: seconds since the newest queue entry was written, those waiting for
    ///     the flush included (nil: none): under a steady stream of segments this stays short
    ///     and the document fills; a pause of `quiet` seconds means nothing more is coming soon.
    ///   - failed: the last round could not ship something: make durable what is there, now.
    public static func flushDue(
        unflushed: Int, oldestUnflushedAge: Double, newestQueuedAge: Double?, failed: Bool,
        maxDelay: Double = 10, quiet: Double = 2
    ) -> Bool {
        guard unflushed > 0 else { return false }
        if failed || oldestUnflushedAge >= maxDelay { return true }
        return (newestQueuedAge ?? .infinity) >= quiet
    }
}
