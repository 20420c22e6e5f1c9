import Testing
@testable import QuickPayCore

/// Vectors from an independent SHA-256 (Python's hashlib), produced by:
///
///     python3 -c '
///     import hashlib
///     for seed,n in [(bytes(range(32)),5),(hashlib.sha256(b"quickpay").digest(),4),(bytes(32),3)]:
///         w=seed; out=[w]
///         for _ in range(n): w=hashlib.sha256(w).digest(); out.append(w)
///         print(seed.hex(), n); print("\n".join(x.hex() for x in reversed(out)))
///     w=bytes(32)
///     for _ in range(1000): w=hashlib.sha256(w).digest()
///     print(w.hex())'
struct HashChainVectorTests {
    static let vectors: [(seed: String, chain: [String])] = [
        (
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            [
                "d06ab04a60c2b9012245fdd6cf457b53552569491a7dad7cae305650b6483328",
                "cefc1232dee44cc53fccf8cc078f657f4db4f1d0303725375a0694f7d395e2ea",
                "4e05063392f42b5180353ef82da86c714042155044d91ab3253f1bab08120a0a",
                "2f287b4d3d4910f6cada9e1bd1b4648099e8c52c81aa4a6aebfa6fc86f19834e",
                "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd",
                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            ]
        ),
        (
            "c1c746337b2eb66eb244261eafc68863faba68c10396dbe55f5797808006e563",
            [
                "f772914201fe0618dd2eaa0a07622b089fde55de67dca0dcb1d3358066976a74",
                "e6691f93f48375e38a3a68ee2d443892dd42e5ecd673033e05f9e0bb8b734aa1",
                "232ae672a1195a75f444749e91b0a4e84fdb0e5b2be341d3bd72f62c89abd7d5",
                "840791eba552e807ba54a0a2361db56ccdb92d86dcff72cf25476550129fd7e5",
                "c1c746337b2eb66eb244261eafc68863faba68c10396dbe55f5797808006e563",
            ]
        ),
        (
            String(repeating: "00", count: 32),
            [
                "12771355e46cd47c71ed1721fd5319b383cca3a1f9fce3aa1c8cd3bd37af20d7",
                "2b32db6c2c0a6235fb1397e8225ea85e0f0e6e8c7b126d0016ccbde0e667151e",
                "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925",
                String(repeating: "00", count: 32),
            ]
        ),
    ]

    @Test(arguments: 0..<vectors.count)
    func chainMatchesHashlib(vector: Int) throws {
        let (seedHex, expected) = Self.vectors[vector]
        let seed = try #require(Bytes32(hex: seedHex))
        let chain = HashChain(seed: seed, length: try ChainLength(expected.count - 1))
        #expect(chain.elements.map(\.hex) == expected)
        #expect(chain.root.hex == expected[0])
        #expect(chain.seed == seed)
    }

    @Test func longestChainRootMatchesHashlib() throws {
        let chain = HashChain(seed: .zero, length: try ChainLength(1000))
        #expect(chain.root.hex == "36c1cb4f826ae42ceba848227e0c5f786178ca9dceca6772e5d728d09c30a2f6")
    }
}

struct ChainVerifierTests {
    let chain = HashChain(seed: Bytes32(hex: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")!, length: try! ChainLength(5))

    func position(_ index: Int) -> ChainPosition { ChainPosition(index: index, value: chain.element(at: index)) }

    @Test func goodCoinAfterTheRootIsAccepted() throws {
        #expect(try ChainVerifier.verify(position(1), after: .root(chain.root), length: chain.length) == 1)
    }

    @Test func everyNextCoinIsAcceptedInTurn() throws {
        var last = ChainPosition.root(chain.root)
        for index in 1...5 {
            #expect(try ChainVerifier.verify(position(index), after: last, length: chain.length) == 1)
            last = position(index)
        }
    }

    @Test func skippingAheadPaysForEverySkippedCoin() throws {
        #expect(try ChainVerifier.verify(position(4), after: position(1), length: chain.length) == 3)
        #expect(try ChainVerifier.verify(position(5), after: .root(chain.root), length: chain.length) == 5)
    }

    @Test func replayedCoinIsRejected() {
        #expect(thrownCode { try ChainVerifier.verify(position(3), after: position(3), length: chain.length) } == .replayedCoin)
        #expect(thrownCode { try ChainVerifier.verify(position(2), after: position(3), length: chain.length) } == .replayedCoin)
    }

    @Test func forgedCoinIsRejected() {
        var generator = SeededGenerator(seed: 7)
        let random = ChainPosition(index: 2, value: .random(using: &generator))
        #expect(thrownCode { try ChainVerifier.verify(random, after: position(1), length: chain.length) } == .badChain)
        // The right value at the wrong index: one step off.
        let offByOne = ChainPosition(index: 3, value: chain.element(at: 2))
        #expect(thrownCode { try ChainVerifier.verify(offByOne, after: position(1), length: chain.length) } == .badChain)
        // A coin of another chain.
        let other = HashChain(seed: .random(using: &generator), length: chain.length)
        #expect(thrownCode { try ChainVerifier.verify(ChainPosition(index: 1, value: other.element(at: 1)), after: .root(chain.root), length: chain.length) } == .badChain)
    }

    @Test func indexOutOfRangeIsRejectedBeforeHashing() {
        // A longer private chain from the same seed region: its element N+1 does hash to w_N's
        // chain, so only the range check (made before any hashing) can refuse it.
        let longer = HashChain(seed: Bytes32.zero, length: try! ChainLength(6))
        let shorterRoot = longer.element(at: 0)
        let beyond = ChainPosition(index: 6, value: longer.element(at: 6))
        #expect(thrownCode { try ChainVerifier.verify(beyond, after: .root(shorterRoot), length: try ChainLength(5)) } == .indexOutOfRange)
        #expect(thrownCode { try ChainVerifier.verify(ChainPosition(index: 0, value: chain.root), after: .root(chain.root), length: chain.length) } == .indexOutOfRange)
        #expect(thrownCode { try ChainVerifier.verify(ChainPosition(index: -1, value: chain.root), after: .root(chain.root), length: chain.length) } == .indexOutOfRange)
        #expect(thrownCode { try ChainVerifier.verify(ChainPosition(index: Int.max, value: chain.root), after: .root(chain.root), length: chain.length) } == .indexOutOfRange)
    }

    @Test func chainLengthIsBounded() {
        #expect(thrownCode { _ = try ChainLength(0) } == .limitExceeded)
        #expect(thrownCode { _ = try ChainLength(1001) } == .limitExceeded)
        #expect(thrownCode { _ = try ChainLength(1000) } == nil)
    }
}
