import QuickPayCore
import Testing


typealias SeededGenerator = SplitMix64

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
