/// The number of coins in one voucher's chain: N, from 1 to 1000 (a limit on the work any one
/// coin can ask of a verifier).
public struct ChainLength: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let maximum = 1000
    public let value: Int

    public init(_ value: Int) throws(QuickPayError) {
        guard (1...ChainLength.maximum).contains(value) else {
            throw QuickPayError(.limitExceeded, "chain length must be 1 to \(ChainLength.maximum), got \(value)")
        }
        self.value = value
    }

    public static func < (lhs: ChainLength, rhs: ChainLength) -> Bool { lhs.value < rhs.value }
    public var description: String { String(value) }
}

/// A hash chain w_0 ... w_N made from a secret seed w_N by w_i = SHA-256(w_{i+1}).
///
/// The root w_0 is public (the bank signs it in the voucher); w_i is the i-th coin. Spending
/// coins in order 1, 2, ... reveals nothing about the coins not yet spent, because SHA-256
/// cannot be inverted. The wallet keeps the chain; the seed never leaves it.
public struct HashChain: Sendable {
    /// w_0 ... w_N, root first.
    public let elements: [Bytes32]

    public init(seed: Bytes32, length: ChainLength) {
        var reversed = [seed]
        reversed.reserveCapacity(length.value + 1)
        for _ in 0..<length.value { reversed.append(reversed[reversed.count - 1].sha256()) }
        elements = reversed.reversed()
    }

    public var length: ChainLength { try! ChainLength(elements.count - 1) }
    public var root: Bytes32 { elements[0] }
    public var seed: Bytes32 { elements[elements.count - 1] }

    /// w_i, for 0 <= i <= N.
    public func element(at index: Int) -> Bytes32 {
        precondition(elements.indices.contains(index), "chain index \(index) outside 0...\(elements.count - 1)")
        return elements[index]
    }
}

/// A position on a chain: index i and the element w_i there.
public struct ChainPosition: Hashable, Sendable {
    public let index: Int
    public let value: Bytes32

    public init(index: Int, value: Bytes32) {
        self.index = index
        self.value = value
    }

    /// The start of every chain: index 0 at the root.
    public static func root(_ root: Bytes32) -> ChainPosition { ChainPosition(index: 0, value: root) }
}

/// Checks a revealed chain element against the last one accepted: PayWord's incremental check.
public enum ChainVerifier {
    /// Verifies that `next` (i, w_i) continues the chain after `last` (j, w_j) of a chain of
    /// `length` N: 1 <= i <= N and j < i, both checked before any hashing, then
    /// SHA-256^(i-j)(w_i) == w_j. Returns the number of steps (i - j), which is the number of
    /// coins the element is worth. At most N hashes are ever computed.
    @discardableResult
    public static func verify(
        _ next: ChainPosition, after last: ChainPosition, length: ChainLength
    ) throws(QuickPayError) -> Int {
        guard next.index >= 1, next.index <= length.value else {
            throw QuickPayError(.indexOutOfRange, "index \(next.index) is outside 1...\(length.value)")
        }
        guard next.index > last.index else {
            throw QuickPayError(.replayedCoin, "index \(next.index) is not above the last accepted \(last.index)")
        }
        let steps = next.index - last.index
        var value = next.value
        for _ in 0..<steps { value = value.sha256() }
        guard value == last.value else {
            throw QuickPayError(.badChain, "element at index \(next.index) does not hash to the one at \(last.index)")
        }
        return steps
    }
}
