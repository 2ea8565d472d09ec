import WalvaultStores
import WalvaultSystem

/// Lets objects larger than a driver's `maxObjectSize` live in it (a 64 MiB WAL segment or a
/// 16 MiB backup part in a 20 MiB Telegram store), the same way for every driver.
///
/// Bytes stream into pieces of at most `maxObjectSize`, each committed as it fills under a hidden
/// staging key (`<directory>/.split/<random>.<n>`), so memory stays bounded and the final name
/// (which holds the checksum) need not be known yet. The commit then writes a small index under
/// the final name: that create-unless-exists is the commit point, exactly as for a whole object.
/// An object that fits is stored whole, with no index. Pieces left by a crash before the index
/// are never visible as objects (listings skip hidden names) and are taken back on abort.
///
/// It sits directly above the driver, below encryption, so the sizes it cuts are those the
/// driver receives. Readers open the index and stream its pieces in order, checking each
/// piece's length; the object's own checks (checksum, authentication) run above as usual.
public final class SplittingStore: StoreWrapper {
    public let base: Store
    public let pieceSize: Int

    static let magic = Array("WALVAULT-SPLIT 1\n".utf8)
    static let stagingDirectory = ".split"

    public init(base: Store, pieceSize: Int) {
        self.base = base
        self.pieceSize = pieceSize
    }

    /// Wraps `store` when it has a size limit; returns it unchanged otherwise.
    public static func wrapping(_ store: Store) -> Store {
        guard let limit = store.maxObjectSize else { return store }
        return SplittingStore(base: store, pieceSize: limit)
    }

    /// The pieces an index names, with their lengths; nil when `bytes` is not an index.
    static func pieces(inIndex bytes: [UInt8]) -> [(key: String, size: Int)]? {
        guard bytes.starts(with: magic) else { return nil }
        var result: [(String, Int)] = []
        for line in String(decoding: bytes[magic.count...], as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 1)
            guard fields.count == 2, let size = Int(fields[0]), size >= 0 else { return nil }
            result.append((String(fields[1]), size))
        }
        return result.isEmpty ? nil : result
    }

    func indexBytes(_ pieces: [(key: String, size: Int)]) -> [UInt8] {
        Self.magic + Array(pieces.map { "\($0.size) \($0.key)\n" }.joined().utf8)
    }

    public func openReader(key: String) throws -> ObjectReader {
        // An index is small: a whole object is never mistaken for one unless it starts with the magic.
        let reader = try base.openReader(key: key)
        var head = [UInt8](repeating: 0, count: Self.magic.count)
        var got = 0
        while got < head.count {
            let n = try head.withUnsafeMutableBytes { try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[got...])) }
            if n == 0 { break }
            got += n
        }
        guard got == head.count, head == Self.magic else { return PrefixedReader(prefix: Array(head[0..<got]), rest: reader) }
        var index = head
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { break }
            index += buffer[0..<n]
            guard index.count <= 1 << 20 else { break }
        }
        guard let pieces = Self.pieces(inIndex: index) else {
            throw StoreError(store: name, kind: .permanent, problem: "the split index \(key) is damaged", fix: "use another store's copy")
        }
        return PiecesReader(store: self, object: key, pieces: pieces)
    }

    public func makeWriter(directory: String) throws -> ObjectWriter {
        SplittingWriter(store: self, directory: directory)
    }

    public func head(key: String) throws -> StoreObject? { try base.head(key: key) }

    /// Deletes the pieces an index names, then the index.
    public func delete(key: String) throws {
        if let bytes = try? base.readSmall(key: key), let pieces = Self.pieces(inIndex: bytes) {
            for piece in pieces { try base.delete(key: piece.key) }
        }
        try base.delete(key: key)
    }

    public func readSmall(key: String) throws -> [UInt8]? {
        guard try base.head(key: key) != nil else { return nil }
        let reader = try openReader(key: key)
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { return out }
            out += buffer[0..<n]
        }
    }

    public func createSmall(key: String, contents: [UInt8]) throws -> Bool {
        let writer = try makeWriter(directory: Paths.dirname(key))
        try contents.withUnsafeBytes { try writer.write($0) }
        if case .stored = try writer.commit(name: Paths.basename(key)) { return true }
        return false
    }
}

/// Bytes already read from an object (to look for the index magic), then the rest of it.
final class PrefixedReader: ObjectReader {
    private var prefix: [UInt8]
    private let rest: ObjectReader

    init(prefix: [UInt8], rest: ObjectReader) {
        self.prefix = prefix
        self.rest = rest
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard prefix.isEmpty else {
            let n = min(buffer.count, prefix.count)
            prefix.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            prefix.removeFirst(n)
            return n
        }
        return try rest.read(into: buffer)
    }
}

/// The pieces of a split object, one after the other, each checked for its recorded length.
final class PiecesReader: ObjectReader {
    private let store: SplittingStore
    private let object: String
    private let pieces: [(key: String, size: Int)]
    private var index = 0
    private var current: ObjectReader?
    private var readInPiece = 0

    init(store: SplittingStore, object: String, pieces: [(key: String, size: Int)]) {
        self.store = store
        self.object = object
        self.pieces = pieces
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while index < pieces.count {
            if current == nil {
                do {
                    current = try store.base.openReader(key: pieces[index].key)
                } catch let error as StoreError where error.kind == .notFound {
                    throw StoreError(store: store.name, kind: .permanent, problem: "piece \(index + 1) of \(pieces.count) of \(object) (\(pieces[index].key)) is missing",
                                     fix: "use another store's copy")
                }
                readInPiece = 0
            }
            let n = try current!.read(into: buffer)
            readInPiece += n
            if n > 0 {
                guard readInPiece <= pieces[index].size else { throw lengthError() }
                return n
            }
            guard readInPiece == pieces[index].size else { throw lengthError() }
            current = nil
            index += 1
        }
        return 0
    }

    private func lengthError() -> StoreError {
        StoreError(store: store.name, kind: .permanent,
                   problem: "piece \(index + 1) of \(pieces.count) of \(object) is \(readInPiece) bytes or more, where its index says \(pieces[index].size)",
                   fix: "use another store's copy")
    }
}

/// Holds the first `pieceSize` bytes; an object that ends within them is written whole under its
/// name. A longer one streams into pieces committed under hidden staging keys as they fill.
final class SplittingWriter: ObjectWriter {
    private let store: SplittingStore
    private let directory: String
    private let staging: String
    /// The first piece, until the object proves longer than one piece.
    private var firstPiece: [UInt8]? = []
    private var writer: ObjectWriter?
    private var inPiece = 0
    private var pieces: [(key: String, size: Int)] = []
    private var open = true

    init(store: SplittingStore, directory: String) {
        self.store = store
        self.directory = directory
        var random = [UInt8](repeating: 0, count: 12)
        for i in random.indices { random[i] = UInt8.random(in: 0...255) }
        staging = Hex.encode(random)
    }

    deinit { if open { abort() } }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard open else { return }
        if var buffered = firstPiece {
            if buffered.count + bytes.count <= store.pieceSize {
                buffered.append(contentsOf: bytes)
                firstPiece = buffered
                return
            }
            // Longer than one piece: from now on, stream.
            firstPiece = nil
            try buffered.withUnsafeBytes { try stream($0) }
        }
        try stream(bytes)
    }

    private func stream(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            if inPiece == store.pieceSize { try closePiece() }
            if writer == nil { writer = try store.base.makeWriter(directory: Paths.join(directory, SplittingStore.stagingDirectory)) }
            let n = min(store.pieceSize - inPiece, bytes.count - offset)
            try writer!.write(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]))
            inPiece += n
            offset += n
        }
    }

    private func closePiece() throws {
        guard let current = writer else { return }
        writer = nil
        let name = "\(staging).\(pieces.count + 1)"
        guard case .stored(let object) = try current.commit(name: name) else {
            throw StoreError(store: store.name, kind: .conflict, problem: "staging piece \(name) already exists", fix: "retry")
        }
        pieces.append((object.key, inPiece))
        inPiece = 0
    }

    func commit(name: String) throws -> CommitOutcome {
        guard open else { throw StoreError(store: store.name, problem: "object \(name) was already committed or aborted", fix: nil) }
        open = false
        do {
            if let whole = firstPiece {
                let writer = try store.base.makeWriter(directory: directory)
                try whole.withUnsafeBytes { try writer.write($0) }
                return try writer.commit(name: name)
            }
            try closePiece()
            let index = store.indexBytes(pieces)
            guard index.count <= store.pieceSize else {
                throw StoreError(store: store.name, kind: .permanent, problem: "\(name) needs \(pieces.count) pieces, too many to index in one object of \(store.pieceSize) bytes",
                                 fix: "raise the store's object size limit")
            }
            let indexWriter = try store.base.makeWriter(directory: directory)
            try index.withUnsafeBytes { try indexWriter.write($0) }
            // The object as listings will show it: the index (sizes of split objects are their index's).
            let outcome = try indexWriter.commit(name: name)
            if case .alreadyPresent = outcome { removePieces() }
            return outcome
        } catch {
            removePieces()
            throw error
        }
    }

    private func removePieces() {
        for piece in pieces { try? store.base.delete(key: piece.key) }
        pieces = []
    }

    func abort() {
        open = false
        firstPiece = nil
        writer?.abort()
        writer = nil
        removePieces()
    }
}
