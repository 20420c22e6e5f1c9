/// One simulation run's outcome.
public struct SimResult: Sendable {
    public let config: SimConfig
    /// A hash of every event in order: the same seed gives the same hash.
    public let traceHash: String
    public let violations: [String]
    /// The last events before the end (or the failure), for people.
    public let trace: [String]
    public let stats: SimStats
    public var passed: Bool { violations.isEmpty }
}

/// `quickpay simulate`: deterministic simulation of the five actors with seed replay.
public enum Simulation {
    /// Runs one seed to its end: the workload, then the liveness phase (faults off, everything
    /// finished and unloaded), checked after every event.
    public static func run(_ config: SimConfig) -> SimResult {
        let world: SimWorld
        do {
            world = try SimWorld(config)
        } catch {
            return SimResult(config: config, traceHash: "-", violations: ["could not set up: \(error)"], trace: [], stats: SimStats())
        }
        world.start()
        while let (time, event) = world.queue.pop() {
            world.now = time
            world.stats.events += 1
            world.maybeFault()
            world.step(event)
            world.auditIfChanged()
            if !world.violations.isEmpty { break }
            if world.faultsOn && world.allCustomersDone { world.startLiveness() }
            if !world.faultsOn && world.settled { break }
            if world.now > config.timeLimitSeconds * 1000 {
                world.violation("not settled after \(config.timeLimitSeconds) s of simulated time: " + world.strandedReport().prefix(6).joined(separator: "; "))
                break
            }
        }
        if world.violations.isEmpty && !world.settled {
            world.violation("the run ran out of events before settling: " + world.strandedReport().prefix(6).joined(separator: "; "))
        }
        world.stats.virtualSeconds = world.now / 1000
        return SimResult(config: config, traceHash: world.trace.hex, violations: world.violations, trace: world.recent, stats: world.stats)
    }

    /// A failing run made small: fewer operations, fewer customers, each fault kind off in turn,
    /// kept as long as the seed still fails. Returns the smallest failing run found.
    public static func shrink(_ failing: SimResult, budget: Int = 40) -> SimResult {
        var best = failing
        var tries = 0
        func attempt(_ change: (inout SimConfig) -> Void) -> Bool {
            guard tries < budget else { return false }
            tries += 1
            var config = best.config
            change(&config)
            guard config != best.config else { return false }
            let result = run(config)
            if !result.passed {
                best = result
                return true
            }
            return false
        }
        var progress = true
        while progress && tries < budget {
            progress = false
            if best.config.operations > 1 { progress = attempt { $0.operations /= 2 } || progress }
            if best.config.customers > 1 { progress = attempt { $0.customers -= 1 } || progress }
            progress = attempt { $0.crashRate = 0 } || progress
            progress = attempt { $0.crashAfterCommitRate = 0 } || progress
            progress = attempt { $0.partitionRate = 0 } || progress
            progress = attempt { $0.commitFailureRate = 0 } || progress
            progress = attempt { $0.lossRate = 0 } || progress
            progress = attempt { $0.duplicateRate = 0 } || progress
            progress = attempt { $0.attackRate = 0 } || progress
        }
        return best
    }
}

extension SimWorld {
    var stopping: Bool { !faultsOn && customers.allSatisfy(\.finished) && settled }

    func start() {
        for index in customers.indices { schedule(.customer(index), in: random(0...200)) }
        for node in nodes {
            scheduleTimer(node)
            if case .merchant = node { schedule(.redeem(node), in: random(2000...8000)) }
        }
    }
}
