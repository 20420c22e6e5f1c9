/// Builds the canonical byte strings that signatures cover: a domain label, then fixed-width
/// big-endian fields. docs/PROTOCOL.md gives every layout, so any language can rebuild them.
struct CanonicalBytes {
    private(set) var bytes: [UInt8]

    /// Starts with the ASCII `label` and a zero byte, so a signature over one kind of object can
    /// never be read as a signature over another.
    init(label: String) {
        bytes = Array(label.utf8) + [0]
    }

    mutating func append(_ value: UInt8) { bytes.append(value) }

    mutating func append(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func append(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }

    mutating func append(_ value: Int64) {
        let bits = UInt64(bitPattern: value)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: bits >> shift)) }
    }

    mutating func append(raw: some Sequence<UInt8>) { bytes.append(contentsOf: raw) }

    /// A short string: one length byte, then its UTF-8 bytes (at most 255).
    mutating func append(shortString value: String) {
        let utf8 = Array(value.utf8)
        precondition(utf8.count <= 255, "short strings in signed bytes are at most 255 bytes")
        bytes.append(UInt8(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}
