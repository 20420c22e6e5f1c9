import Crypto
import Foundation

/// A 32-byte value held inline (no heap allocation): hash-chain elements, roots, receipt-chain
/// elements, seeds. Equality is constant-time, since some of these values are secrets.
public struct Bytes32: Hashable, Sendable, CustomStringConvertible {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    public static let byteCount = 32
    public static let zero = Bytes32(words: (0, 0, 0, 0))

    private init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    /// Exactly 32 bytes, or nil.
    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == Bytes32.byteCount else { return nil }
        var value = Bytes32.zero
        Swift.withUnsafeMutableBytes(of: &value.words) { target in
            // Contiguous storage (arrays, Data) is copied in one go; the loop is the fallback.
            let copied: Void? = bytes.withContiguousStorageIfAvailable { source in
                target.copyMemory(from: UnsafeRawBufferPointer(source))
            }
            if copied == nil {
                for (offset, byte) in bytes.enumerated() { target[offset] = byte }
            }
        }
        self = value
    }

    /// 64 hex digits (either case), or nil.
    public init?(hex: String) {
        guard let bytes = HexCoding.decode(hex), let value = Bytes32(bytes) else { return nil }
        self = value
    }

    /// Draws 32 bytes from `generator`. Pass the system CSPRNG for secrets.
    public static func random(using generator: inout some RandomNumberGenerator) -> Bytes32 {
        Bytes32(words: (generator.next(), generator.next(), generator.next(), generator.next()))
    }

    init(_ digest: SHA256Digest) {
        var value = Bytes32.zero
        Swift.withUnsafeMutableBytes(of: &value.words) { target in
            digest.withUnsafeBytes { source in target.copyMemory(from: source) }
        }
        self = value
    }

    /// SHA-256 of these 32 bytes: one step down a hash chain.
    public func sha256() -> Bytes32 {
        Swift.withUnsafeBytes(of: words) { Bytes32(SHA256.hash(data: $0)) }
    }

    /// Calls `body` with the 32 bytes, without copying them.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words, body)
    }

    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    public var hex: String { HexCoding.encode(bytes) }

    public var description: String { hex }

    public static func == (lhs: Bytes32, rhs: Bytes32) -> Bool {
        let difference =
            (lhs.words.0 ^ rhs.words.0) | (lhs.words.1 ^ rhs.words.1)
            | (lhs.words.2 ^ rhs.words.2) | (lhs.words.3 ^ rhs.words.3)
        return difference == 0
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}

/// Lowercase hex, the one text form of bytes in QuickPay's tools and logs.
public enum HexCoding {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Decodes an even number of hex digits (either case); nil for anything else.
    public static func decode(_ text: String) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(characters.count / 2)
        var index = 0
        while index < characters.count {
            guard let high = nibble(characters[index]), let low = nibble(characters[index + 1]) else {
                return nil
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension Bytes32 {
    /// SHA-256 of any bytes: request digests, code hashes, token hashes.
    public static func sha256(of bytes: some Sequence<UInt8>) -> Bytes32 {
        Bytes32(SHA256.hash(data: Array(bytes)))
    }
}
