/// A small object (an info file, a manifest, a Telegram catalog) sealed or opened whole in
/// memory, in the same format as streamed objects.
public enum SealedBytes {
    public static func seal(_ plain: [UInt8], keyRing: KeyRing) throws -> [UInt8] {
        let sink = MemorySink()
        let stage = try EncryptStage(key: keyRing.writingKey(), next: sink)
        try stage.write(plain)
        try stage.finish()
        return sink.bytes
    }

    /// - Parameter object: how errors name it ("catalog message 12 in store \"telegram\"").
    public static func open(_ sealed: [UInt8], object: String, keyRing: KeyRing) throws -> [UInt8] {
        var offset = 0
        let reader = DecryptingReader(object: object, keyRing: keyRing) { buffer in
            let n = min(buffer.count, sealed.count - offset)
            sealed.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + n])) }
            offset += n
            return n
        }
        let sink = MemorySink()
        try StreamPump.pump(reading: reader.read(into:), into: sink, chunkSize: 64 << 10)
        return sink.bytes
    }
}
