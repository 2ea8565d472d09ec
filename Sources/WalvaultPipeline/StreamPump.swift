import WalvaultSystem

/// Moves bytes from a file into a pipeline in fixed-size chunks: the only place data is read,
/// so the memory bound of every command is this buffer plus the stages' own state.
public enum StreamPump {
    public static let chunkSize = 1 << 20

    @discardableResult
    public static func pump(from file: FileDescriptor, into sink: ByteSink, chunkSize: Int = chunkSize) throws -> Int {
        file.adviseSequential()
        return try pump(reading: file.read(into:), into: sink, chunkSize: chunkSize)
    }

    /// - Parameter read: fills the buffer it is given and returns the byte count, 0 at the end.
    @discardableResult
    public static func pump(
        reading read: (UnsafeMutableRawBufferPointer) throws -> Int, into sink: ByteSink,
        chunkSize: Int = chunkSize
    ) throws -> Int {
        let pooled = chunkSize == Self.chunkSize
        let buffer = (pooled ? buffers.take()?.buffer : nil) ?? UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
        defer { if pooled { buffers.give(Buffer(buffer: buffer)) } else { buffer.deallocate() } }
        var total = 0
        while true {
            let n = try read(buffer)
            if n == 0 { break }
            try sink.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += n
        }
        try sink.finish()
        return total
    }

    /// Reads until `buffer` is full or the source ends; returns the byte count. For parsers
    /// that need a whole header or chunk, since a source may hand out fewer bytes per call.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer, reading read: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> Int {
        var total = 0
        while total < buffer.count {
            let n = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[total...]))
            if n == 0 { break }
            total += n
        }
        return total
    }
}

/// A read buffer of `StreamPump.chunkSize`, kept for the next pump (see `ReusePool`).
private struct Buffer: @unchecked Sendable { let buffer: UnsafeMutableRawBufferPointer }
private let buffers = ReusePool<Buffer>(limit: 8) { $0.buffer.deallocate() }

/// Drops everything: for passes that only need a stage's side effect (a checksum).
public final class DiscardSink: ByteSink {
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws {}
    public func finish() throws {}
}

/// Writes the pipeline's output to an open file.
public final class FileSink: ByteSink {
    public let file: FileDescriptor
    public init(file: FileDescriptor) { self.file = file }
    public func write(_ bytes: UnsafeRawBufferPointer) throws { try file.writeAll(bytes) }
    public func finish() throws {}
}
