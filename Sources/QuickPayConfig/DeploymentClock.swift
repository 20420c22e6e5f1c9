import Foundation
import QuickPayCore

/// The time actors see: the system clock plus an offset the deployment can shift (a scenario
/// moves time forward to expire OTPs and vouchers without waiting). Actors never read the clock
/// themselves; the host passes `now` in.
public final class DeploymentClock: @unchecked Sendable {
    private let lock = NSLock()
    private var offsetSeconds: Int64

    public init(offsetSeconds: Int64 = Int64(ProcessInfo.processInfo.environment["QUICKPAY_CLOCK_OFFSET"] ?? "") ?? 0) {
        self.offsetSeconds = offsetSeconds
    }

    public var now: Timestamp {
        lock.lock()
        defer { lock.unlock() }
        return Timestamp(secondsSinceEpoch: Int64(Date().timeIntervalSince1970) + offsetSeconds)
    }

    public func advance(seconds: Int64) {
        lock.lock()
        defer { lock.unlock() }
        offsetSeconds += seconds
    }

    public var offset: Int64 {
        lock.lock()
        defer { lock.unlock() }
        return offsetSeconds
    }
}

/// Milliseconds on a monotonic clock, for deadlines and retries.
public func monotonicMilliseconds() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
}
