import ArgumentParser
import Foundation
import QuickPayCore
import QuickPaySim

/// `quickpay simulate`: the deterministic simulator.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run the five actors in one process on a seeded event queue, with faults and attackers; replay any seed exactly.",
        discussion: """
            Each seed is a whole run: customers register, log in, load, pay (offline
            and online merchants), unload and redeem prepaid codes, and attack; the
            network loses, duplicates, delays and partitions; servers crash before and
            after commits and fail commits; then everything heals and every operation
            must finish with nothing stranded. The auditor's checks run after every
            event that changed durable state.

            Examples:
              quickpay simulate --seeds 200          seeds 1 to 200, with progress
              quickpay simulate --seed 17 --trace    replay seed 17: trace end, hash
              quickpay simulate --seeds 1000 --first 5000 --operations 50

            A failure prints its seed, the violation, a shrunk run (fewer operations,
            customers and fault kinds that still fail), the command that replays it,
            and its last events; exit status 1. docs/SIMULATION.md has the model.
            """
    )

    @Option(help: "Run one seed.") var seed: UInt64?
    @Option(help: "Run this many seeds (a campaign).") var seeds = 20
    @Option(help: "The first seed of a campaign.") var first: UInt64 = 1
    @Option(help: "Customers per run.") var customers = 3
    @Option(help: "Operations per customer.") var operations = 25
    @Option(help: "Multiply every fault rate by this (0: no faults).") var faults = 1.0
    @Option(help: "Per message: lost (default 0.02).") var loss: Double?
    @Option(help: "Per message: duplicated (default 0.02).") var duplicates: Double?
    @Option(help: "Per event: a server crashes (default 0.0015).") var crashes: Double?
    @Option(help: "Per drain: a server dies right after its commit (default 0.003).") var crashesAfterCommit: Double?
    @Option(help: "Per event: a link is cut for 1-8 s (default 0.0015).") var partitions: Double?
    @Option(help: "Per event: a server's next commit fails (default 0.001).") var commitFailures: Double?
    @Option(help: "Share of customers' operations that are attacks (default 0.15).") var attacks: Double?
    @Option(help: "Vouchers the customers load: ed25519 (default) or blind-rsa (RFC 9474; slower: RSA and big-number work per load).") var scheme = "ed25519"
    @Flag(help: "Print the end of the trace of each run.") var trace = false
    @Flag(help: "Do not shrink a failing run.") var noShrink = false
    @Flag(help: "Stop the campaign at the first failing seed (how many seeds a defect needs to be caught).") var untilFailure = false

    func validate() throws {
        guard SignatureScheme(name: scheme) != nil else { throw ValidationError("--scheme is ed25519 or blind-rsa") }
    }

    func config(_ seed: UInt64) -> SimConfig {
        var config = SimConfig(seed: seed)
        config.customers = customers
        config.operations = operations
        config.lossRate = (loss ?? config.lossRate) * faults
        config.duplicateRate = (duplicates ?? config.duplicateRate) * faults
        config.crashRate = (crashes ?? config.crashRate) * faults
        config.crashAfterCommitRate = (crashesAfterCommit ?? config.crashAfterCommitRate) * faults
        config.partitionRate = (partitions ?? config.partitionRate) * faults
        config.commitFailureRate = (commitFailures ?? config.commitFailureRate) * faults
        config.attackRate = attacks ?? config.attackRate
        config.scheme = SignatureScheme(name: scheme) ?? .ed25519
        return config
    }

    func run() throws {
        // Dictionaries iterate in the same order in every process with the same seed.
        if ProcessInfo.processInfo.environment["SWIFT_DETERMINISTIC_HASHING"] == nil {
            setenv("SWIFT_DETERMINISTIC_HASHING", "1", 1)
            let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
            execv("/proc/self/exe", arguments)
        }
        let list = seed.map { [$0] } ?? Array(first..<first + UInt64(seeds))
        var failures: [SimResult] = []
        var payments = 0
        var events = 0
        let started = ProcessInfo.processInfo.systemUptime
        let cpuStarted = clock()
        let terminal = isatty(1) != 0
        var ran: [UInt64] = []
        for (position, seed) in list.enumerated() {
            ran.append(seed)
            let result = Simulation.run(config(seed))
            payments += result.stats.payments
            events += result.stats.events
            if trace || list.count == 1 {
                print("seed \(seed): \(result.passed ? "passed" : "FAILED"), trace \(result.traceHash), \(result.stats.events) events, \(result.stats.payments) payments, \(result.stats.loads) loads, \(result.stats.unloads) unloads, \(result.stats.refreshes) refreshes, \(result.stats.attacks) attacks (\(result.stats.attacksRefused) refused), \(result.stats.crashes) crashes, \(result.stats.partitions) partitions, \(result.stats.failedGroups) failed groups, \(result.stats.multiInputGroups) groups of several inputs, \(result.stats.batchesSent) batches, \(result.stats.dropped) messages lost, \(result.stats.virtualSeconds) s simulated")
                if trace { for line in result.trace.suffix(400) { print("    \(line)") } }
            }
            if !result.passed {
                failures.append(result)
                print("\(terminal ? "\n" : "")seed \(seed) FAILED: \(result.violations.first ?? "")")
                if untilFailure {
                    print("caught after \(position + 1) seed(s)")
                    break
                }
            }
            if list.count > 1 {
                // On a terminal one line that updates; in a log a line every tenth of the way.
                let line = String(format: "  %d/%d seeds, %d failed, %d payments, %.0f s", position + 1, list.count, failures.count, payments, ProcessInfo.processInfo.systemUptime - started)
                if terminal {
                    FileHandle.standardOutput.write(Data(("\r" + line).utf8))
                } else if (position + 1) % max(1, list.count / 10) == 0 {
                    print(line)
                }
            }
        }
        if terminal && list.count > 1 { print("") }
        let wall = ProcessInfo.processInfo.systemUptime - started
        let cpu = Double(clock() - cpuStarted) / Double(CLOCKS_PER_SEC)
        print(String(format: "%d seeds (%@), %d failed; %d payments, %d events in %.1f s (%.1f s of CPU): %.0f payments and %.1f seeds per CPU second",
            ran.count, ran.count == 1 ? "seed \(ran[0])" : "\(ran.first!)...\(ran.last!)", failures.count, payments, events, wall, cpu,
            Double(payments) / max(cpu, 1e-9), Double(ran.count) / max(cpu, 1e-9)))
        guard let failure = failures.first else { return }
        print("\nFirst failure: \(failure.config)")
        for violation in failure.violations { print("  \(violation)") }
        if !noShrink {
            let small = Simulation.shrink(failure)
            print("Shrunk: \(small.config)\n  \(small.violations.first ?? "")\n  replay: quickpay simulate \(small.config.replayArguments) --trace")
            print("Its last events:")
            for line in small.trace.suffix(40) { print("    \(line)") }
        }
        throw ExitCode(1)
    }
}
