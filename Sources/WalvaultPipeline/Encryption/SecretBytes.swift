import COpenSSL

/// Key material and passphrases live only in these buffers, which are wiped with
/// OPENSSL_cleanse (a memset the compiler may not drop) when released, so a later core dump
/// or swapped-out page does not carry them. Swift arrays would leave copies behind.
public final class SecretBytes: @unchecked Sendable {
    public let count: Int
    private let storage: UnsafeMutableRawBufferPointer

    public init(count: Int) {
        self.count = count
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(count: bytes.count)
        if bytes.count > 0 { storage.copyMemory(from: bytes) }
    }

    deinit {
        OPENSSL_cleanse(storage.baseAddress, storage.count)
        storage.deallocate()
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// A copy of the first `length` bytes (dropping a trailing newline from a passphrase file).
    public func prefix(_ length: Int) -> SecretBytes {
        SecretBytes(copying: UnsafeRawBufferPointer(rebasing: storage[0..<min(length, count)]))
    }

    /// Constant-time comparison, so a check value cannot be guessed byte by byte from timings.
    public func isEqual(to other: UnsafeRawBufferPointer) -> Bool {
        other.count == count && (count == 0 || CRYPTO_memcmp(storage.baseAddress, other.baseAddress, count) == 0)
    }

    /// Wipes an ordinary array that briefly held secret bytes (a file read, a hex line).
    public static func wipe(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { if $0.count > 0 { OPENSSL_cleanse($0.baseAddress, $0.count) } }
    }
}
