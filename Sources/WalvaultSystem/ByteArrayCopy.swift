extension Array where Element == UInt8 {
    /// A new array holding a copy of `bytes`, made with one `memcpy` into storage that is not
    /// zeroed first: chunks and objects of a few megabytes are copied this way per read.
    public init(copying bytes: UnsafeRawBufferPointer) {
        self.init(unsafeUninitializedCapacity: bytes.count) { buffer, count in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes)
            count = bytes.count
        }
    }
}
