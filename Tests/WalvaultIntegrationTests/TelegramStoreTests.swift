import Dispatch
import Synchronization
import Testing
import WalvaultPipeline
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultStores

#if canImport(Glibc)
    import Glibc
#endif

// Against the Telegram Bot API stand-in (WalvaultTesting).
/// The driver against the Bot API stand-in.
@Suite(.serialized) struct TelegramStoreTests {
    struct Rig {
        let standIn: TelegramStandIn
        let dir = TempDir()
        var keyRing: KeyRing?

        init(token: String? = nil, encrypted: Bool = false) throws {
            if let token { standIn = try TelegramStandIn(token: token) } else { standIn = try TelegramStandIn() }
            if encrypted {
                keyRing = KeyRing(
                    passphrase: Array("correct horse battery".utf8).withUnsafeBytes { SecretBytes(copying: $0) }, iterations: 1000, cache: nil)
            }
        }

        /// A store as a process sees it; `machine` names its local state (a new one: a new machine).
        func store(
            machine: String = "a", partSize: Int = 1 << 20, token: String? = nil, chatID: String? = nil, localFiles: Bool = false,
            pacer: TelegramPacer = TelegramPacer(), catalogDocumentLimit: Int = TelegramStore.defaultCatalogDocumentLimit,
            catalogSettleSeconds: Double = 0.05, forumTopics: Bool = false
        ) -> TelegramStore {
            telegramStore(
                standIn, workDirectory: dir.sub("work-\(machine)"), partSize: partSize, keyRing: keyRing, pacer: pacer,
                retryDelays: [0.05, 0.1, 0.2, 0.4, 0.8], token: token, chatID: chatID, localFiles: localFiles,
                catalogDocumentLimit: catalogDocumentLimit, catalogSettleSeconds: catalogSettleSeconds, forumTopics: forumTopics)
        }
    }

    func put(_ store: Store, _ key: String, _ bytes: [UInt8]) throws {
        let writer = try store.makeWriter(directory: Paths.dirname(key))
        try bytes.withUnsafeBytes { try writer.write($0) }
        guard case .stored = try writer.commit(name: Paths.basename(key)) else { Issue.record("\(key) not stored"); return }
    }

    @Test func smallObjectsShareOneDocumentAndANewMachineReadsThemFromTheChatAlone() throws {
        let rig = try Rig()
        let store = rig.store()
        var objects: [String: [UInt8]] = [:]
        for i in 0..<10 {
            objects["main/wal/0000000100000000/seg-\(i)"] = sampleBytes(60_000 + i, seed: UInt64(i))
        }
        for (key, bytes) in objects.sorted(by: { $0.key < $1.key }) { try put(store, key, bytes) }
        #expect(rig.standIn.stats()["documents", default: 0] == 0, "nothing is sent before the document is full or flushed")
        _ = try store.flush()
        // One bundle and one catalog.
        #expect(rig.standIn.stats()["documents"] == 2)
        let fresh = rig.store(machine: "new")
        #expect(try fresh.list(directory: "main/wal/0000000100000000", namePrefix: "").count == 10)
        for (key, bytes) in objects { #expect(try readObject(fresh, key) == bytes) }
        // The history's handle: the document's file_id.
        #expect(fresh.handle(of: "main/wal/0000000100000000/seg-3")?.hasPrefix("F") == true)
    }

    @Test(arguments: [false, true])
    func largeObjectsAreSplitIntoDocumentsOfThePartSize(encrypted: Bool) throws {
        let rig = try Rig(encrypted: encrypted)
        let store = rig.store(partSize: 1 << 20)
        let big = sampleBytes((3 << 20) + 12345, seed: 9)
        try put(store, "main/backup/L/part-000001", big)
        try put(store, "main/backup/L/part-000002", [1, 2, 3])
        _ = try store.flush()
        #expect(rig.standIn.stats()["documents"] == 5, "four pieces (the last shared) and a catalog")
        let fresh = rig.store(machine: "new", partSize: 1 << 20)
        #expect(try readObject(fresh, "main/backup/L/part-000001") == big)
        #expect(try readObject(fresh, "main/backup/L/part-000002") == [1, 2, 3])
        // The catalog is sealed when [encryption] is set; without the passphrase it is refused plainly.
        if encrypted {
            var plain = rig
            plain.keyRing = nil
            let error = storeError { _ = try plain.store(machine: "nokey").head(key: "main/backup/L/part-000002") }
            #expect("\(error!)".contains("[encryption]"))
        }
    }

    @Test func theNewestCatalogLostOrDamagedLeadsToTheOneBefore() throws {
        let rig = try Rig()
        let store = rig.store()
        try put(store, "k/one", [1])
        _ = try store.flush()
        try put(store, "k/two", [2])
        _ = try store.flush()
        try put(store, "k/three", [3])
        _ = try store.flush()
        let pinned = try #require(try store.api.getChat().pinned_message)
        // Damaged: the caption leads to generation 2.
        try rig.standIn.set(["damaged": [pinned.message_id]])
        let afterDamage = rig.store(machine: "damaged")
        #expect(try afterDamage.head(key: "k/two") != nil)
        #expect(try afterDamage.head(key: "k/three") == nil)
        // Deleted: Telegram's pinned message becomes the one pinned before.
        try rig.standIn.set([:])
        try store.api.deleteMessage(pinned.message_id)
        let afterLoss = rig.store(machine: "lost")
        #expect(try afterLoss.head(key: "k/two") != nil)
        #expect(try afterLoss.head(key: "k/three") == nil)
        // Writing on from there continues the chain.
        try put(afterLoss, "k/four", [4])
        _ = try afterLoss.flush()
        let later = rig.store(machine: "later")
        #expect(try later.list(directory: "k", namePrefix: "").map(\.name) == ["four", "one", "two"])
    }

    /// One catalog generation per flush: those no reader can need any more (older than the
    /// snapshot the fallback's chain starts at) are deleted within Telegram's 48 hours.
    @Test func catalogGenerationsNoReaderNeedsAreDeletedAndTheChatStillReads() throws {
        let rig = try Rig()
        try rig.standIn.set(["rate": 1000])
        let store = rig.store(pacer: TelegramPacer(rate: 1000))
        for i in 0..<40 {
            try put(store, "k/\(i)", [UInt8(i)])
            _ = try store.flush()
        }
        // Generation 40 pinned: readers need 32 on (39's chain starts at the snapshot 32).
        let stats = rig.standIn.stats()
        #expect(stats["deleted"] == 31, "\(stats)")
        #expect(stats["messages"] == 40 + 9, "40 data documents and generations 32 to 40: \(stats)")
        let fresh = rig.store(machine: "fresh")
        #expect(try fresh.list(directory: "k", namePrefix: "").count == 40)
        // The newest damaged: the one before and its chain are all still there.
        let pinned = try #require(try store.api.getChat().pinned_message)
        try rig.standIn.set(["rate": 1000, "damaged": [pinned.message_id]])
        let afterDamage = rig.store(machine: "damaged")
        #expect(try afterDamage.list(directory: "k", namePrefix: "").count == 39)
    }

    @Test func aLongHistoryReadsBackFromTheLastSnapshot() throws {
        let rig = try Rig()
        // 40 messages: faster than a real chat takes them, which is not what this test is about.
        try rig.standIn.set(["rate": 1000])
        let store = rig.store(pacer: TelegramPacer(rate: 1000))
        for i in 0..<20 {
            try put(store, "k/\(i)", [UInt8(i)])
            if i % 2 == 1 { try store.delete(key: "k/\(i - 1)") }
            _ = try store.flush()
        }
        let fresh = rig.store(machine: "fresh")
        #expect(try fresh.list(directory: "k", namePrefix: "").map(\.name).sorted() == (0..<20).filter { $0 % 2 == 1 }.map(String.init).sorted())
        #expect(try readObject(fresh, "k/19") == [19])
    }

    @Test func rateLimitsAreWaitedOutAndNothingIsLost() throws {
        let rig = try Rig()
        try rig.standIn.set(["rate": 2, "window": 2])
        let store = rig.store(partSize: 64 << 10)
        var objects: [String: [UInt8]] = [:]
        for i in 0..<6 { objects["k/\(i)"] = sampleBytes(50_000, seed: UInt64(100 + i)) }
        for (key, bytes) in objects.sorted(by: { $0.key < $1.key }) { try put(store, key, bytes) }
        _ = try store.flush()
        #expect(rig.standIn.stats()["served_429", default: 0] > 0)
        let fresh = rig.store(machine: "fresh")
        for (key, bytes) in objects { #expect(try readObject(fresh, key) == bytes) }
    }

    @Test func aDocumentTheServerCallsTooLargeIsSentInSmallerPieces() throws {
        let rig = try Rig()
        try rig.standIn.set(["upload_limit": 400_000])
        let store = rig.store(partSize: 1 << 20)
        let bytes = sampleBytes(900_000, seed: 4)
        try put(store, "k/big", bytes)
        _ = try store.flush()
        // 900 000 bytes refused, then two halves refused, then four quarters taken; and the catalog.
        #expect(rig.standIn.stats()["documents"] == 5)
        #expect(try readObject(rig.store(machine: "fresh"), "k/big") == bytes)
    }

    @Test(arguments: ["502", "drop"])
    func transientFailuresOfRequestsAreRetried(kind: String) throws {
        let rig = try Rig()
        try rig.standIn.set(["fail_every": 3, "fail_kind": kind])
        let store = rig.store(partSize: 64 << 10)
        var objects: [String: [UInt8]] = [:]
        for i in 0..<8 { objects["k/\(i)"] = sampleBytes(40_000, seed: UInt64(i)) }
        for (key, bytes) in objects.sorted(by: { $0.key < $1.key }) { try put(store, key, bytes) }
        _ = try store.flush()
        try rig.standIn.set(["fail_every": 0])
        #expect(rig.standIn.stats()["failed", default: 0] > 0, "\(rig.standIn.stats())")
        let fresh = rig.store(machine: "fresh")
        for (key, bytes) in objects { #expect(try readObject(fresh, key) == bytes) }
    }

    @Test func aWrongTokenOrChatIsOneClearLineWithoutTheToken() throws {
        let rig = try Rig(token: "777:TOKENMARKER-right")
        let wrongToken = storeError { _ = try rig.store(machine: "x", token: "777:TOKENMARKER-wrong").head(key: "k") }
        #expect(wrongToken?.kind == .auth)
        let wrongChat = storeError { _ = try rig.store(machine: "y", chatID: "-99").head(key: "k") }
        #expect("\(wrongChat!)".contains("chat not found"))
        for error in [wrongToken, wrongChat].compactMap({ $0 }) {
            #expect(!"\(error)".contains("TOKENMARKER"))
            #expect(!"\(error)".contains("\n"))
        }
    }

    @Test func deletionRemovesWithin48HoursAndReportsTheRestAsLeftInTheChat() throws {
        let rig = try Rig()
        let store = rig.store(partSize: 64 << 10)
        try put(store, "k/young", sampleBytes(100_000, seed: 1))
        _ = try store.flush()
        try put(store, "k/old", sampleBytes(100_000, seed: 2))
        try put(store, "k/kept", [1])
        _ = try store.flush()
        try store.delete(key: "k/young")
        #expect(try store.flush().leftBehind.isEmpty)
        #expect(rig.standIn.stats()["deleted"] == 2)
        // Two days later Telegram refuses; the catalog forgets it all the same, and says so.
        try rig.standIn.set(["clock_offset": 49 * 3600])
        let later = rig.store(machine: "later", partSize: 64 << 10)
        try later.delete(key: "k/old")
        let report = try later.flush()
        #expect(report.leftBehind.keys.sorted() == ["k/old"])
        #expect(report.leftBehind["k/old"]?.contains("48 hours") == true)
        #expect(rig.standIn.stats()["deleted"] == 2)
        #expect(try rig.store(machine: "after").head(key: "k/old") == nil)
        #expect(try rig.store(machine: "after2").head(key: "k/kept") != nil)
    }

    @Test func aLocalBotAPIServerIsReadFromItsFiles() throws {
        let rig = try Rig()
        let local = rig.dir.sub("botapi")
        mkdir(local, 0o755)
        try rig.standIn.set(["local_dir": local])
        let store = rig.store(localFiles: true)
        let bytes = sampleBytes(300_000, seed: 3)
        try put(store, "k/x", bytes)
        _ = try store.flush()
        #expect(try readObject(rig.store(machine: "fresh", localFiles: true), "k/x") == bytes)
        // Without local_files the path the server answers is not a download path.
        #expect(storeError { _ = try readObject(rig.store(machine: "plain", localFiles: false), "k/x") } != nil)
    }

    @Test func aSecondWriterOnTheSameChatIsMergedNotLost() throws {
        let rig = try Rig()
        let first = rig.store(machine: "one")
        let second = rig.store(machine: "two")
        try put(first, "k/a", [1])
        try put(second, "k/b", [2])  // loaded the empty chat before the first flushed
        _ = try first.flush()
        _ = try second.flush()
        #expect(try rig.store(machine: "three").list(directory: "k", namePrefix: "").map(\.name) == ["a", "b"])
    }

    @Test(arguments: [false, true])
    func aCatalogTooLargeForOneDocumentIsSentInSlicesAndReadBackWhole(encrypted: Bool) throws {
        let rig = try Rig(encrypted: encrypted)
        try rig.standIn.set(["rate": 1000])
        let store = rig.store(pacer: TelegramPacer(rate: 1000), catalogDocumentLimit: 16 << 10)
        try put(store, "main/first", [1])
        _ = try store.flush()
        let before = rig.standIn.stats()["documents", default: 0]
        for i in 0..<400 { try put(store, "main/wal/0000000100000000/segment-\(i)", [UInt8(i % 256), 7]) }
        _ = try store.flush()
        // One bundle, the slices, and the head that names them (pinned).
        let sent = rig.standIn.stats()["documents", default: 0] - before
        #expect(sent >= 4, "a bundle, at least two slices and a head: \(sent)")
        let head = try #require(try store.api.getChat().pinned_message)
        #expect(head.caption?.hasPrefix("walvault catalog 2 ") == true)
        let fresh = rig.store(machine: "fresh", catalogDocumentLimit: 16 << 10)
        #expect(try fresh.list(directory: "main/wal/0000000100000000", namePrefix: "").count == 400)
        #expect(try readObject(fresh, "main/wal/0000000100000000/segment-259") == [3, 7])
        // A slice that cannot be read makes the whole generation unreadable: the one before is used.
        try rig.standIn.set(["rate": 1000, "damaged": [head.message_id - 1]])
        let damaged = rig.store(machine: "damaged", catalogDocumentLimit: 16 << 10)
        #expect(try damaged.head(key: "main/first") != nil)
        #expect(try damaged.head(key: "main/wal/0000000100000000/segment-0") == nil)
    }

    @Test func theLastCatalogReadIsKeptOnTheMachineInSlicesAndADamagedCopyIsReadFromTheChatAgain() throws {
        let rig = try Rig()
        try rig.standIn.set(["rate": 1000])
        let store = rig.store(pacer: TelegramPacer(rate: 1000))
        // More objects than one slice of the copy holds, all pieces of one document sent at once.
        let objects = TelegramStore.cacheSliceItems + 500
        let bytes = sampleBytes(1 << 20, seed: 3)
        try put(store, "base/real", bytes)
        try store.withCatalog { state in
            let real = try #require(state.working.entries["base/real"])
            for i in 0..<objects {
                let entry = TelegramCatalog.Entry(
                    key: "k/\(i)", size: 10, sha256: SHA256Hasher.hex(of: Array(bytes[i..<(i + 10)])), stored: 1,
                    extents: [TelegramCatalog.Extent(message: real.extents[0].message, offset: i, length: 10)])
                state.working.put(entry)
                state.changes.append(.put(entry))
            }
        }
        _ = try store.flush()
        let cache = Paths.join(rig.dir.sub("work-a"), "catalog.slices")
        #expect(FileSystem.exists(cache))
        // The same machine, a new process: one getChat, no download.
        let requests = rig.standIn.stats()["requests", default: 0]
        let again = rig.store(machine: "a")
        #expect(try again.list(directory: "k", namePrefix: "").count == objects)
        #expect(rig.standIn.stats()["requests", default: 0] == requests + 1)
        #expect(try readObject(again, "k/7") == Array(bytes[7..<17]))
        // Cut short, the copy is not trusted: the catalog comes from the chat again.
        let size = try #require(try FileSystem.size(cache))
        #expect(truncate(cache, off_t(size / 2)) == 0)
        let beforeDamage = rig.standIn.stats()["requests", default: 0]
        let afterDamage = rig.store(machine: "a")
        #expect(try afterDamage.list(directory: "k", namePrefix: "").count == objects)
        #expect(rig.standIn.stats()["requests", default: 0] > beforeDamage + 1, "the catalog was downloaded")
    }

    /// Two machines shipping to one chat at the same moments: each pins a catalog, and one built
    /// on the same predecessor as the other's must not hide the other's objects.
    @Test func twoWritersRacingOnOneChatLoseNothing() throws {
        let rig = try Rig()
        try rig.standIn.set(["rate": 100_000])
        let writers = ["one", "two"].map { rig.store(machine: $0, pacer: TelegramPacer(rate: 100_000), catalogSettleSeconds: 0.3) }
        let rounds = 20
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: writers.count) { w in
            for round in 0..<rounds {
                do {
                    try put(writers[w], "k/\(w)-\(round)", [UInt8(w), UInt8(round)])
                    _ = try writers[w].flush()
                } catch {
                    failures.withLock { $0.append("writer \(w), round \(round): \(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let reader = rig.store(machine: "reader")
        let names = Set(try reader.list(directory: "k", namePrefix: "").map(\.name))
        let expected = Set((0..<writers.count).flatMap { w in (0..<rounds).map { "\(w)-\($0)" } })
        #expect(expected.subtracting(names).sorted() == [], "objects lost from the final catalog")
        #expect(try readObject(reader, "k/1-19") == [1, 19])
    }

    @Test func aPinSlowerThanTheSettleTimeIsTakenBackAndTheFlushFailsAfterItsAttempts() throws {
        let rig = try Rig()
        try rig.standIn.set(["rate": 1000])
        let first = rig.store(machine: "one", pacer: TelegramPacer(rate: 1000))
        try put(first, "k/one", [1])
        _ = try first.flush()
        let pinnedBefore = try #require(try first.api.getChat().pinned_message?.message_id)
        let hasty = rig.store(machine: "two", pacer: TelegramPacer(rate: 1000), catalogSettleSeconds: 1e-9)
        try put(hasty, "k/two", [2])
        let error = try #require(storeError { _ = try hasty.flush() })
        #expect(error.problem.hasPrefix("the catalog of chat \(rig.standIn.chatID) could not be pinned in 8 attempts"))
        #expect(error.kind == .transient)
        #expect(try first.api.getChat().pinned_message?.message_id == pinnedBefore)
        #expect(try rig.store(machine: "three").head(key: "k/two") == nil)
        // The same changes, flushed by a writer that pins in time, arrive.
        let patient = rig.store(machine: "two", pacer: TelegramPacer(rate: 1000))
        try put(patient, "k/two", [2])
        _ = try patient.flush()
        #expect(try rig.store(machine: "four").head(key: "k/two") != nil)
    }

    func hex(_ value: Int, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

/// Forum topics (issue 29, part 1): each group's objects in a topic of its own, deleted whole.
@Suite(.serialized) struct TelegramTopicStoreTests {
    func put(_ store: TelegramStore, _ key: String, _ bytes: [UInt8], group: String?) throws {
        let writer = try store.makeWriter(directory: Paths.dirname(key), group: group.map { ObjectGroup(name: $0) })
        try bytes.withUnsafeBytes { try writer.write($0) }
        #expect(try writer.commit(name: Paths.basename(key)) != .alreadyPresent([]))
    }

    /// What init and check are told about a chat, and the one line a store with forum_topics refuses with.
    @Test func aChatUnfitForTopicsIsNamedWithTheRightToGrant() throws {
        let rig = try TelegramStoreTests.Rig()
        let store = rig.store(forumTopics: true)
        #expect(try store.forumUnfitness()?.problem.contains("not a forum supergroup") == true)
        let refusal = try #require(storeError { try self.put(store, "main/wal/x", [1], group: "G") })
        #expect(refusal.problem.hasPrefix("forum_topics = true, but chat") && refusal.fix.contains("forum_topics = false"), "\(refusal)")
        #expect(rig.standIn.stats()["documents", default: 0] == 0, "nothing sent")
        // The stand-in merges what it is told: each line says every right.
        let admin: [String: Any] = ["forum": true, "bot_status": "administrator", "can_manage_topics": true, "can_delete_messages": true]
        try rig.standIn.set(admin.merging(["bot_status": "member"]) { $1 })
        #expect(try store.forumUnfitness()?.problem.contains("not an administrator") == true)
        try rig.standIn.set(admin.merging(["can_manage_topics": false, "can_delete_messages": false]) { $1 })
        let both = try #require(try store.forumUnfitness())
        #expect(both.problem.contains("rights Manage topics and Delete messages") && both.fix.hasPrefix("grant Manage topics and Delete messages"))
        try rig.standIn.set(admin.merging(["can_delete_messages": false]) { $1 })
        #expect(try store.forumUnfitness()?.problem.contains("right Delete messages") == true)
        // Removing an object is refused the same way before anything leaves the catalog.
        #expect(storeError { try store.delete(key: "main/wal/x") }?.problem.contains("Delete messages") == true)
        try rig.standIn.set(admin)
        #expect(try store.forumUnfitness() == nil)
    }

    @Test func eachGroupHasATopicAndOneNothingKeptUsesIsDeletedWholeWhateverItsAge() throws {
        let rig = try TelegramStoreTests.Rig()
        try rig.standIn.set(["forum": true])
        let store = rig.store(partSize: 64 << 10, forumTopics: true)
        // Interleaved, as parallel shipping commits them: a document never mixes two groups.
        for i in 0..<6 {
            try put(store, "main/wal/a\(i)", sampleBytes(30_000, seed: UInt64(i)), group: i % 2 == 0 ? "walvault main A" : "walvault main B")
        }
        try put(store, "main/archive.info", [1, 2, 3], group: nil)
        _ = try store.flush()
        #expect(rig.standIn.stats()["topics"] == 2)
        // 45 days later Telegram refuses deleteMessage, but deletes a topic with its messages.
        try rig.standIn.set(["forum": true, "clock_offset": 45 * 86_400])
        let later = rig.store(machine: "later", partSize: 64 << 10, forumTopics: true)
        for i in stride(from: 0, to: 6, by: 2) { try later.delete(key: "main/wal/a\(i)") }
        let report = try later.flush()
        #expect(report.groupsDeleted.keys.sorted() == ["walvault main A"], "\(report)")
        #expect((report.groupsDeleted["walvault main A"] ?? 0) >= 90_000)
        #expect(report.leftBehind.isEmpty, "\(report)")
        #expect(rig.standIn.stats()["topics_deleted"] == 1)
        let fresh = rig.store(machine: "fresh", partSize: 64 << 10, forumTopics: true)
        for i in stride(from: 1, to: 6, by: 2) { #expect(try readObject(fresh, "main/wal/a\(i)") == sampleBytes(30_000, seed: UInt64(i))) }
        #expect(try fresh.head(key: "main/wal/a0") == nil)
        // A later object of group A opens a new topic.
        try put(fresh, "main/wal/a6", [6], group: "walvault main A")
        _ = try fresh.flush()
        #expect(rig.standIn.stats()["topics"] == 3)
        #expect(try readObject(rig.store(machine: "fresh2", forumTopics: true), "main/wal/a6") == [6])
    }

    /// A topic that Telegram refuses to delete stays closing in the catalog, is reported, and is
    /// deleted by a later flush (expire's or ship's) once it can be: never forgotten.
    @Test func aTopicThatFailsToDeleteIsTriedAgainByTheNextFlush() throws {
        let rig = try TelegramStoreTests.Rig()
        let admin: [String: Any] = ["forum": true, "bot_status": "administrator", "can_manage_topics": true, "can_delete_messages": true]
        try rig.standIn.set(admin)
        let shipper = rig.store(machine: "ship", partSize: 64 << 10, forumTopics: true)
        try put(shipper, "main/wal/a", sampleBytes(10_000, seed: 1), group: "walvault main A")
        try put(shipper, "main/wal/b", sampleBytes(10_000, seed: 2), group: "walvault main B")
        _ = try shipper.flush()
        let expire = rig.store(machine: "expire", partSize: 64 << 10, forumTopics: true)
        try expire.delete(key: "main/wal/a")
        // The right is taken away between the deletion and the flush.
        try rig.standIn.set(admin.merging(["can_delete_messages": false]) { $1 })
        let refused = try expire.flush()
        #expect(refused.groupsDeleted.isEmpty)
        #expect(refused.groupsLeft["walvault main A"]?.contains("delete") == true, "\(refused)")
        #expect(rig.standIn.stats()["topics_deleted", default: 0] == 0)
        #expect(try rig.store(machine: "reader").head(key: "main/wal/a") == nil)
        // Another machine's next flush, with nothing of its own to record, deletes it.
        try rig.standIn.set(admin)
        let later = rig.store(machine: "later", partSize: 64 << 10, forumTopics: true)
        #expect(try later.flush().groupsDeleted.keys.sorted() == ["walvault main A"])
        #expect(rig.standIn.stats()["topics_deleted"] == 1)
        #expect(try readObject(rig.store(machine: "reader2"), "main/wal/b") == sampleBytes(10_000, seed: 2))
    }

    /// Expire on another machine closes and deletes a topic while this one has sent into it but
    /// not flushed: the flush leaves that object out (its bytes are gone), so the shipper, finding
    /// it missing, sends it again into the group's next topic.
    @Test func anObjectSentIntoATopicAnotherWriterDeletedIsLeftOutAndGoesAgainIntoANewTopic() throws {
        let rig = try TelegramStoreTests.Rig()
        try rig.standIn.set(["forum": true])
        let shipper = rig.store(machine: "ship", partSize: 16 << 10, forumTopics: true)
        try put(shipper, "main/wal/old", sampleBytes(20_000, seed: 1), group: "G")
        _ = try shipper.flush()
        // Two whole documents: both sent into the topic at commit.
        try put(shipper, "main/wal/late", sampleBytes(32_768, seed: 2), group: "G")
        let expire = rig.store(machine: "expire", partSize: 16 << 10, forumTopics: true)
        try expire.delete(key: "main/wal/old")
        #expect(try expire.flush().groupsDeleted.keys.sorted() == ["G"])
        #expect(rig.standIn.stats()["topics_deleted"] == 1)
        _ = try shipper.flush()
        #expect(try shipper.head(key: "main/wal/late") == nil)
        #expect(try rig.store(machine: "reader").head(key: "main/wal/late") == nil)
        try put(shipper, "main/wal/late", sampleBytes(32_768, seed: 2), group: "G")
        _ = try shipper.flush()
        #expect(rig.standIn.stats()["topics"] == 2)
        #expect(try readObject(rig.store(machine: "reader2", forumTopics: true), "main/wal/late") == sampleBytes(32_768, seed: 2))
    }

    /// 60 simulated days of a nightly backup and its WAL, 30 kept, deleted each day as expire
    /// would: what the chat still holds at the end, without topics and with them.
    @Test func sixtyDaysWithTopicsLeaveTheWindowInTheChatAndWithoutThemEverything() throws {
        func simulate(topics: Bool) throws -> (messages: Int, bytes: Int) {
            let rig = try TelegramStoreTests.Rig()
            try rig.standIn.set(["forum": topics, "rate": 100_000])
            for day in 0..<60 {
                try rig.standIn.set(["forum": topics, "rate": 100_000, "clock_offset": day * 86_400])
                let store = rig.store(machine: "day\(day)", partSize: 64 << 10, forumTopics: topics)
                let group = "walvault main day\(day)"
                for part in 0..<3 {
                    try put(store, "main/backup/\(day)/part\(part)", sampleBytes(40_000, seed: UInt64(day * 10 + part)), group: group)
                }
                for segment in 0..<24 {
                    try put(store, "main/wal/\(day)-\(segment)", sampleBytes(8_000, seed: UInt64(day * 100 + segment)), group: group)
                }
                // Retention: the day that fell out of the 30-day window goes, backup and WAL.
                if day >= 30 {
                    let old = day - 30
                    for part in 0..<3 { try store.delete(key: "main/backup/\(old)/part\(part)") }
                    for segment in 0..<24 { try store.delete(key: "main/wal/\(old)-\(segment)") }
                }
                _ = try store.flush()
            }
            let stats = rig.standIn.stats()
            return (stats["messages"] ?? 0, stats["message_bytes"] ?? 0)
        }
        let without = try simulate(topics: false)
        let with = try simulate(topics: true)
        print(
            "60 days, 30 kept: without topics the chat holds \(without.messages) messages, \(without.bytes) bytes; with topics \(with.messages) messages, \(with.bytes) bytes"
        )
        // Without topics nothing older than 48 hours goes; with them, about the window.
        #expect(with.bytes * 10 < without.bytes * 6, "with \(with), without \(without)")
        #expect(with.messages < without.messages)
    }
}
