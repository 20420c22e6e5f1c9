import QuickPayCore
import Testing

/// SplitMix64: a deterministic generator so every property test replays the same values.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs `body` and returns the code of the QuickPayError it threw, or nil if it did not throw.
/// Any other error is a test failure in itself.
func thrownCode(_ body: () throws -> Void) -> ErrorCode? {
    do {
        try body()
        return nil
    } catch let error as QuickPayError {
        return error.code
    } catch {
        Issue.record("threw \(error), not a QuickPayError")
        return nil
    }
}
