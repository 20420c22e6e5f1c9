import ArgumentParser

/// `quickpay bench`: benchmarks that print figures and ratios measured in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print figures, and ratios to baselines measured in the same run.",
        discussion: "Build in release mode for honest figures: make bench (or swift build -c release).",
        subcommands: [CoreBench.self, ZmqBench.self, ActorsBench.self, VoucherBench.self, EchoServer.self]
    )
}

/// Runs `batch` (which does `batchSize` operations) repeatedly for about `seconds`, `rounds`
/// times, and reports the median rate: one round's hiccup on a noisy machine does not decide.
struct RateMeter {
    let seconds: Double
    let rounds: Int

    /// A sink the optimiser cannot see through, so measured work is never removed.
    nonisolated(unsafe) static var sink: UInt64 = 0

    func operationsPerSecond(batchSize: Int, _ batch: () -> UInt64) -> Double {
        var rates: [Double] = []
        for _ in 0..<rounds {
            let clock = ContinuousClock()
            let start = clock.now
            var operations = 0
            var elapsed = Duration.zero
            repeat {
                RateMeter.sink &+= batch()
                operations += batchSize
                elapsed = clock.now - start
            } while elapsed < .milliseconds(Int(seconds * 1000))
            let secondsElapsed = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            rates.append(Double(operations) / secondsElapsed)
        }
        return rates.sorted()[rates.count / 2]
    }
}

/// Formats 1234567.8 as "1,234,568".
func grouped(_ value: Double) -> String {
    let digits = String(Int(value.rounded()))
    var out = ""
    for (offset, character) in digits.reversed().enumerated() {
        if offset > 0 && offset % 3 == 0 { out.append(",") }
        out.append(character)
    }
    return String(out.reversed())
}
