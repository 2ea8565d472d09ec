import WalvaultPipeline

/// The last pipeline stage before the stores: the same bytes go to every store writer that
/// needs the object, so compression and hashing happen once however many stores there are.
/// Committing is left to the caller, which decides per store.
public final class StoreFanOut: ByteSink {
    public let writers: [ObjectWriter]
    public init(writers: [ObjectWriter]) { self.writers = writers }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        for writer in writers { try writer.write(bytes) }
    }

    public func finish() throws {}
}
