import WalvaultPipeline
import WalvaultSystem

/// Wraps every store when no [encryption] is configured. Writes pass through; reads refuse an
/// object that begins with walvault's encryption header, so that a missing [encryption]
/// section is explained in one line instead of surfacing as "corrupted" from a decompressor.
public final class UnencryptedStore: StoreWrapper {
    public let base: Store

    public init(base: Store) { self.base = base }

    public func openReader(key: String) throws -> ObjectReader {
        PlaintextCheckingReader(base: try base.openReader(key: key), object: "\(key) in store \"\(name)\"")
    }

    public func makeWriter(directory: String) throws -> ObjectWriter { try base.makeWriter(directory: directory) }

    public func readSmall(key: String) throws -> [UInt8]? {
        guard let bytes = try base.readSmall(key: key) else { return nil }
        if EncryptionHeader.hasMagic(bytes) { throw EncryptionError.encryptedWithoutKey("\(key) in store \"\(name)\"") }
        return bytes
    }

    public func createSmall(key: String, contents: [UInt8]) throws -> Bool {
        try base.createSmall(key: key, contents: contents)
    }
}

/// Looks at the first bytes once, then gets out of the way.
final class PlaintextCheckingReader: ObjectReader {
    let base: ObjectReader
    let object: String
    private var prefix: [UInt8]?
    private var prefixOffset = 0

    init(base: ObjectReader, object: String) {
        self.base = base
        self.object = object
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if prefix == nil {
            var head = [UInt8](repeating: 0, count: EncryptionHeader.magic.count)
            let got = try head.withUnsafeMutableBytes { try StreamPump.fill($0, reading: base.read(into:)) }
            if EncryptionHeader.hasMagic(head[0..<got]) { throw EncryptionError.encryptedWithoutKey(object) }
            prefix = Array(head[0..<got])
        }
        if let prefix, prefixOffset < prefix.count {
            let n = min(buffer.count, prefix.count - prefixOffset)
            prefix.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[prefixOffset..<prefixOffset + n])) }
            prefixOffset += n
            return n
        }
        return try base.read(into: buffer)
    }
}
