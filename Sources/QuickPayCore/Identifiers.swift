/// 16 random bytes: the shape of voucher ids and request ids.
public struct Bytes16: Hashable, Sendable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    public static let byteCount = 16

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Exactly 16 bytes (big-endian halves), or nil.
    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == Bytes16.byteCount else { return nil }
        let halves = bytes.withContiguousStorageIfAvailable { source -> (UInt64, UInt64) in
            let raw = UnsafeRawBufferPointer(source)
            return (
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            )
        }
        if let (high, low) = halves {
            self.init(high: high, low: low)
            return
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (offset, byte) in bytes.enumerated() {
            if offset < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    public init?(hex: String) {
        guard let bytes = HexCoding.decode(hex), let value = Bytes16(bytes) else { return nil }
        self = value
    }

    public static func random(using generator: inout some RandomNumberGenerator) -> Bytes16 {
        Bytes16(high: generator.next(), low: generator.next())
    }

    public var bytes: [UInt8] {
        withUnsafeBytes(of: (high.bigEndian, low.bigEndian)) { Array($0) }
    }

    public var hex: String { HexCoding.encode(bytes) }
    public var description: String { hex }
}

/// Names one voucher (one hash chain) everywhere: bank row, merchant state, wallet.
public struct VoucherID: Hashable, Sendable, CustomStringConvertible {
    public let raw: Bytes16
    public init(_ raw: Bytes16) { self.raw = raw }
    public static func random(using generator: inout some RandomNumberGenerator) -> VoucherID {
        VoucherID(.random(using: &generator))
    }
    public var description: String { raw.hex }
}

/// A client-chosen id that makes a request idempotent: a retry under the same id gets the
/// first answer and takes effect at most once.
public struct RequestID: Hashable, Sendable, CustomStringConvertible {
    public let raw: Bytes16
    public init(_ raw: Bytes16) { self.raw = raw }
    public static func random(using generator: inout some RandomNumberGenerator) -> RequestID {
        RequestID(.random(using: &generator))
    }

    /// A request id laid out as a UUIDv7 (RFC 9562, section 5.7): the first 48 bits are the
    /// sender's clock in Unix milliseconds, then the version (7), 12 random bits, the variant
    /// (binary 10) and 62 random bits: 74 random bits in all, as hard to guess as a random id.
    /// Ids made later sort later, so a server's index of the ids it keeps answers for grows at
    /// its right edge (a few pages a group) instead of at random (a page per request); servers
    /// never rely on it (PROTOCOL.md section 2).
    public static func timeOrdered(unixMilliseconds: Int64, using generator: inout some RandomNumberGenerator) -> RequestID {
        let milliseconds = min(UInt64(clamping: max(0, unixMilliseconds)), 0xFFFF_FFFF_FFFF)
        let high = milliseconds << 16 | 0x7000 | generator.next() & 0x0FFF
        let low = generator.next() & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        return RequestID(Bytes16(high: high, low: low))
    }

    /// The same at a core's time of the moment (whole seconds: the milliseconds are zero).
    public static func timeOrdered(at now: Timestamp, using generator: inout some RandomNumberGenerator) -> RequestID {
        let (milliseconds, overflow) = now.secondsSinceEpoch.multipliedReportingOverflow(by: 1000)
        return timeOrdered(unixMilliseconds: overflow ? .max : milliseconds, using: &generator)
    }

    /// The time in a time-ordered id (Unix milliseconds), or nil for an id of another layout.
    public var unixMilliseconds: Int64? {
        guard raw.high >> 12 & 0xF == 7, raw.low >> 62 == 0b10 else { return nil }
        return Int64(raw.high >> 16)
    }
    public var description: String { raw.hex }
}

/// A receiver (merchant) id: 1 to 32 characters from `A-Z a-z 0-9 . _ -`. Vouchers are bound
/// to one receiver, as the paper asks.
public struct ReceiverID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let maximumLength = 32
    public let value: String

    public init(_ value: String) throws(QuickPayError) {
        let bytes = Array(value.utf8)
        guard (1...ReceiverID.maximumLength).contains(bytes.count) else {
            throw QuickPayError(.malformed, "receiver id must be 1 to \(ReceiverID.maximumLength) characters")
        }
        guard bytes.allSatisfy(ReceiverID.isAllowed) else {
            throw QuickPayError(.malformed, "receiver id may hold only A-Z a-z 0-9 . _ -")
        }
        self.value = value
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    public static func < (lhs: ReceiverID, rhs: ReceiverID) -> Bool { lhs.value < rhs.value }
    public var description: String { value }
}

/// A point in time, in whole seconds since the Unix epoch. Actors never read the clock: the
/// shell passes `now` in, so tests and scenarios can move time.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let secondsSinceEpoch: Int64
    public init(secondsSinceEpoch: Int64) { self.secondsSinceEpoch = secondsSinceEpoch }

    public func adding(seconds: Int64) -> Timestamp {
        Timestamp(secondsSinceEpoch: secondsSinceEpoch.addingReportingOverflow(seconds).overflow
            ? (seconds > 0 ? .max : .min) : secondsSinceEpoch + seconds)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.secondsSinceEpoch < rhs.secondsSinceEpoch
    }
    public var description: String { "t=\(secondsSinceEpoch)" }
}
