import Testing
import WalvaultTesting

@testable import WalvaultPolicy

/// The rule that lets several restore workers write one file while its SHA-256 sees every byte
/// once, front to back.
@Suite struct InOrderHashingTests {
    @Test func theFirstPieceIsHashedWhileWrittenAndTheLastFinishes() {
        let file = Hashing(InOrderHashing(size: 30))
        #expect(file.start(offset: 0) == .hashWhileWriting)
        file.hashed(length: 10)
        #expect(file.next() == .release)
        #expect(file.start(offset: 10) == .hashWhileWriting)
        file.hashed(length: 20)
        #expect(file.next() == .finished)
        #expect(file.finished)
    }

    @Test func aPieceArrivingEarlyIsReadBackByWhoeverFillsTheGap() {
        let file = Hashing(InOrderHashing(size: 30))
        // Piece 2 starts before piece 1: write only, and the hash is not taken.
        #expect(file.start(offset: 20) == .writeOnly)
        #expect(file.written(offset: 20, length: 10))  // nobody holds it: this worker takes it...
        #expect(file.next() == .release)  // ...but nothing is in order yet: put down.
        #expect(file.start(offset: 0) == .hashWhileWriting)
        file.hashed(length: 10)
        // Piece 1 of 10..<20 is still being written by a third worker.
        #expect(file.next() == .release)
        #expect(file.start(offset: 10) == .hashWhileWriting)
        file.hashed(length: 10)
        #expect(file.next() == .readBack(offset: 20, length: 10))
        file.hashed(length: 10)
        #expect(file.next() == .finished)
    }

    @Test func whileTheHashIsHeldOthersOnlyWriteAndTheHolderCollectsThem() {
        let file = Hashing(InOrderHashing(size: 40))
        #expect(file.start(offset: 0) == .hashWhileWriting)
        #expect(file.start(offset: 10) == .writeOnly)
        #expect(file.start(offset: 20) == .writeOnly)
        #expect(!file.written(offset: 20, length: 10), "held: the holder will collect it")
        #expect(!file.written(offset: 10, length: 10))
        file.hashed(length: 10)
        #expect(file.next() == .readBack(offset: 10, length: 20), "pieces back to back are read back as one")
        file.hashed(length: 20)
        #expect(file.next() == .release, "30..<40 not written yet")
        #expect(file.start(offset: 30) == .hashWhileWriting)
        file.hashed(length: 10)
        #expect(file.next() == .finished)
    }

    @Test func aPieceWrittenAfterTheHolderLooksIsPickedUpByItsWriter() {
        let file = Hashing(InOrderHashing(size: 20))
        #expect(file.start(offset: 0) == .hashWhileWriting)
        #expect(file.start(offset: 10) == .writeOnly)
        file.hashed(length: 10)
        #expect(file.next() == .release)  // 10..<20 is not written yet: the holder lets go...
        #expect(file.written(offset: 10, length: 10), "...so its writer takes the hash")
        #expect(file.next() == .readBack(offset: 10, length: 10))
        file.hashed(length: 10)
        #expect(file.next() == .finished)
    }

    @Test func aRunOfWrittenPiecesIsReadBackInRangesOfAtMostTheLimit() {
        let file = Hashing(InOrderHashing(size: 50))
        #expect(file.start(offset: 0) == .hashWhileWriting)
        for offset in stride(from: 10, to: 50, by: 10) { #expect(!file.written(offset: offset, length: 10)) }
        file.hashed(length: 10)
        #expect(file.next(readBackLimit: 25) == .readBack(offset: 10, length: 30), "stops at the first piece past the limit")
        file.hashed(length: 30)
        #expect(file.next(readBackLimit: 25) == .readBack(offset: 40, length: 10))
        file.hashed(length: 10)
        #expect(file.next(readBackLimit: 25) == .finished)
    }

    /// Every interleaving the workers can produce, simulated step by step under the lock: each
    /// byte is hashed exactly once and in order, and exactly one worker finishes the file.
    @Test func randomInterleavingsHashEveryByteOnceInOrder() {
        var generator = SplitMix(seed: 42)
        for _ in 0..<2000 {
            let count = Int.random(in: 1...7, using: &generator)
            let lengths = (0..<count).map { _ in Int.random(in: 1...5, using: &generator) }
            let offsets = lengths.indices.map { lengths[..<$0].reduce(0, +) }
            let size = lengths.reduce(0, +)
            var order = InOrderHashing(size: size)
            enum Phase { case notStarted, writing(hashing: Bool), holding, done }
            var phases = Array(repeating: Phase.notStarted, count: count)
            var hashedRanges: [Range<Int>] = []
            var finishes = 0
            while phases.contains(where: { if case .done = $0 { return false } else { return true } }) {
                let candidates = phases.indices.filter { if case .done = phases[$0] { return false } else { return true } }
                let i = candidates.randomElement(using: &generator)!
                switch phases[i] {
                case .notStarted:
                    phases[i] = .writing(hashing: order.start(offset: offsets[i]) == .hashWhileWriting)
                case .writing(let hashing):
                    if hashing {
                        hashedRanges.append(offsets[i]..<(offsets[i] + lengths[i]))
                        order.hashed(length: lengths[i])
                        phases[i] = .holding
                    } else {
                        phases[i] = order.written(offset: offsets[i], length: lengths[i]) ? .holding : .done
                    }
                case .holding:
                    switch order.next(readBackLimit: Int.random(in: 1...12, using: &generator)) {
                    case .readBack(let offset, let length):
                        hashedRanges.append(offset..<(offset + length))
                        order.hashed(length: length)
                    case .release:
                        phases[i] = .done
                    case .finished:
                        finishes += 1
                        phases[i] = .done
                    }
                case .done:
                    break
                }
            }
            // Read-backs may join neighbouring pieces: the ranges still tile the file in order.
            #expect(hashedRanges.first?.lowerBound == 0, "lengths \(lengths)")
            #expect(zip(hashedRanges, hashedRanges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }, "lengths \(lengths)")
            #expect(hashedRanges.last?.upperBound == size)
            #expect(Set(offsets).isSuperset(of: hashedRanges.map(\.lowerBound)), "every range starts where a piece does")
            #expect(finishes == 1)
            #expect(order.finished && order.waiting.isEmpty && order.hashedUpTo == size)
        }
    }
}

/// The state behind a reference, so `#expect` can call its mutating steps.
final class Hashing {
    var state: InOrderHashing
    init(_ state: InOrderHashing) { self.state = state }
    func start(offset: Int) -> InOrderHashing.Start { state.start(offset: offset) }
    func hashed(length: Int) { state.hashed(length: length) }
    func written(offset: Int, length: Int) -> Bool { state.written(offset: offset, length: length) }
    func next(readBackLimit: Int = 1 << 20) -> InOrderHashing.Next { state.next(readBackLimit: readBackLimit) }
    var finished: Bool { state.finished }
}

/// A seeded generator, so a failing interleaving can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
