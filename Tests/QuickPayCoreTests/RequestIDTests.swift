import Testing
@testable import QuickPayCore

/// Request ids laid out as UUIDv7 (RFC 9562, section 5.7): time first, 74 random bits.
struct RequestIDTests {
    @Test func timeOrderedIdsCarryTheTimeVersionAndVariant() {
        var generator = SeededGenerator(seed: 1)
        let milliseconds: Int64 = 0x0123_4567_89AB
        let id = RequestID.timeOrdered(unixMilliseconds: milliseconds, using: &generator)
        let bytes = id.raw.bytes
        #expect(Array(bytes[0..<6]) == [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB])
        #expect(bytes[6] >> 4 == 7)
        #expect(bytes[8] >> 6 == 0b10)
        #expect(id.unixMilliseconds == milliseconds)
        // The RFC's example time (section A.6: 2022-02-22 19:22:22 UTC) in its first 48 bits.
        let example = RequestID.timeOrdered(unixMilliseconds: 0x017F_22E2_79B0, using: &generator)
        #expect(example.raw.hex.hasPrefix("017f22e279b07"))
    }

    @Test func laterIdsSortLaterAndTheRandomPartDiffers() {
        var generator = SeededGenerator(seed: 2)
        let ids = (0..<1000).map { RequestID.timeOrdered(unixMilliseconds: 1_800_000_000_000 + Int64($0), using: &generator) }
        let big = ids.map { $0.raw.bytes }
        #expect(zip(big, big.dropFirst()).allSatisfy { $0.lexicographicallyPrecedes($1) })
        var same = SeededGenerator(seed: 3)
        let a = RequestID.timeOrdered(unixMilliseconds: 5, using: &same)
        let b = RequestID.timeOrdered(unixMilliseconds: 5, using: &same)
        #expect(a != b)
        #expect(Set(ids).count == ids.count)
    }

    @Test func aCoreTimeIsWholeSecondsAndOutOfRangeTimesClamp() {
        var generator = SeededGenerator(seed: 4)
        #expect(RequestID.timeOrdered(at: Timestamp(secondsSinceEpoch: 1_800_000_000), using: &generator).unixMilliseconds == 1_800_000_000_000)
        #expect(RequestID.timeOrdered(unixMilliseconds: -5, using: &generator).unixMilliseconds == 0)
        #expect(RequestID.timeOrdered(at: Timestamp(secondsSinceEpoch: .max), using: &generator).unixMilliseconds == 0xFFFF_FFFF_FFFF)
        #expect(RequestID.timeOrdered(unixMilliseconds: 0x1_0000_0000_0005, using: &generator).unixMilliseconds == 0xFFFF_FFFF_FFFF, "past 48 bits: the last time, not a wrap")
        // A random id is not read as a time unless its version and variant bits say so.
        #expect(RequestID(Bytes16(high: 0, low: 0)).unixMilliseconds == nil)
    }
}
