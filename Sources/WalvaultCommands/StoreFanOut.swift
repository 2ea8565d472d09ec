import WalvaultPipeline
import WalvaultStores

/// The last pipeline stage of a push: the same compressed bytes go to every store that
/// needs the object, so compression and hashing happen once however many stores there are.
final class StoreFanOut: ByteSink {
    let writers: [ObjectWriter]
    init(writers: [ObjectWriter]) { self.writers = writers }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        for writer in writers { try writer.write(bytes) }
    }

    func finish() throws {}
}
