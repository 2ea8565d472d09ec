/// One stage of a streaming pipeline. Stages own the next stage, so a pipeline is
/// built inside-out (`Hashing(Compress(Encrypt(storeWriter)))`) and data flows in
/// bounded chunks: no stage ever needs the whole object in memory.
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Flushes whatever the stage buffers and finishes the stages after it.
    func finish() throws
}

extension ByteSink {
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// Collects bytes in memory; only for small objects (info files) and tests.
public final class MemorySink: ByteSink {
    public private(set) var bytes: [UInt8] = []
    public private(set) var finished = false
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws { self.bytes.append(contentsOf: bytes) }
    public func finish() throws { finished = true }
}
