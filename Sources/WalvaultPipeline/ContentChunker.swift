/// Where a stream of a file's bytes is cut into chunks: a gear rolling hash (FastCDC, with
/// normalized chunking and the first `minimum` bytes of a chunk skipped), so that a cut depends
/// only on the 64 bytes before it. An insertion therefore moves only the cuts near it, and every
/// chunk after the next cut is the same as before: stored once, whatever moved in front of it.
public struct ContentChunker: Sendable {
    public struct Sizes: Sendable, Equatable {
        public let minimum: Int
        /// What chunks average, as a power of two: the masks are drawn from it.
        public let normal: Int
        public let maximum: Int

        public init(minimum: Int, normal: Int, maximum: Int) {
            precondition(minimum > 0 && minimum < normal && normal < maximum && normal & (normal - 1) == 0)
            self.minimum = minimum
            self.normal = normal
            self.maximum = maximum
        }

        /// 512 KiB to 8 MiB around 1 MiB, as restic: a 16 MiB pack holds a dozen chunks or so, and a
        /// tree of 100,000 files stays a list of a few hundred thousand chunk names at most.
        public static let files = Sizes(minimum: 512 << 10, normal: 1 << 20, maximum: 8 << 20)
    }

    public let sizes: Sizes
    private let gear: GearTable
    /// Two more bits than the normal size's before it and two fewer after (normalization level 2),
    /// so chunk sizes gather around `normal`. High bits: a gear hash's low bits see only its last bytes.
    private let strictMask: UInt64
    private let looseMask: UInt64
    private var hash: UInt64 = 0
    /// Bytes of the current chunk seen so far.
    public private(set) var length = 0

    public init(gear: GearTable, sizes: Sizes = .files) {
        self.gear = gear
        self.sizes = sizes
        let bits = sizes.normal.trailingZeroBitCount
        strictMask = ~(UInt64.max >> UInt64(bits + 2))
        looseMask = ~(UInt64.max >> UInt64(bits - 2))
    }

    /// Takes bytes that continue the current chunk. - Returns: how many of them end it (the rest
    /// begin the next, to be given again), or nil when all of them belong to it and it goes on.
    public mutating func cut(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        var index = 0
        if length < sizes.minimum {
            let skip = min(sizes.minimum - length, count)
            length += skip
            index = skip
            if length < sizes.minimum { return nil }
        }
        // Two loops, each with one mask and one bound, so the loop over the bytes tests one thing:
        // up to the normal size with the strict mask, then up to the maximum with the loose one.
        var h = hash
        let start = index
        let seenBefore = length
        let cutAt = gear.values.withUnsafeBufferPointer { table -> Int? in
            /// Hashes up to `end` under `mask`; the index after the cut, or nil. Two bytes a step:
            /// the hash after the second does not wait for the one after the first (both come
            /// from the hash before them), which halves the chain of dependent operations.
            func scan(to end: Int, mask: UInt64) -> Int? {
                while index + 1 < end {
                    let first = table[Int(base[index])]
                    let second = table[Int(base[index + 1])]
                    let afterFirst = (h &<< 1) &+ first
                    let afterSecond = (h &<< 2) &+ ((first &<< 1) &+ second)
                    if afterFirst & mask == 0 {
                        h = afterFirst
                        index += 1
                        return index
                    }
                    h = afterSecond
                    index += 2
                    if afterSecond & mask == 0 { return index }
                }
                if index < end {
                    h = (h &<< 1) &+ table[Int(base[index])]
                    index += 1
                    if h & mask == 0 { return index }
                }
                return nil
            }
            if let cut = scan(to: min(count, index + max(0, sizes.normal - seenBefore)), mask: strictMask) { return cut }
            if let cut = scan(to: min(count, index + max(0, sizes.maximum - (seenBefore + index - start))), mask: looseMask) { return cut }
            return seenBefore + index - start >= sizes.maximum ? index : nil
        }
        if let cutAt {
            hash = 0
            length = 0
            return cutAt
        }
        hash = h
        length = seenBefore + index - start
        return nil
    }

    /// The last chunk of a file ends with the file, wherever the hash is.
    public mutating func endOfFile() {
        hash = 0
        length = 0
    }
}

/// The 256 random words of a gear hash. Drawn from a seed with SHA-256 in counter mode, so a
/// repository with a secret seed cuts where nobody without it can predict: a known file's chunk
/// sizes, seen in a store, would otherwise say that the file is there.
public struct GearTable: Sendable, Equatable {
    let values: [UInt64]

    public init(seed: [UInt8]) {
        var values: [UInt64] = []
        values.reserveCapacity(256)
        var counter: UInt32 = 0
        while values.count < 256 {
            let hasher = SHA256Hasher()
            (seed + withUnsafeBytes(of: counter.littleEndian) { Array($0) }).withUnsafeBytes { hasher.update($0) }
            let digest = hasher.finalizeBytes()
            for word in 0..<4 {
                values.append(digest[(word * 8)..<(word * 8 + 8)].reversed().reduce(0) { $0 << 8 | UInt64($1) })
            }
            counter += 1
        }
        self.values = values
    }

    /// For a repository without `[encryption]`: its chunks' names are plain SHA-256 anyway.
    public static let unkeyed = GearTable(seed: Array("walvault/v1 files chunker".utf8))
}
