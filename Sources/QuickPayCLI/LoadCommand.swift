import ArgumentParser
import Foundation
import QuickPayLoad
import QuickPayClient
import QuickPayConfig
import QuickPayTestbed
import QuickPayReport
import QuickPayScenario

/// `quickpay load FILE...`: load at a given rate (open loop) or concurrency (closed loop)
/// against the actors as real processes, with the raw ZeroMQ baseline measured in the same run.
struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Run load files: latency per operation (HdrHistogram), offered vs accepted, errors, invariants, ratios to raw ZeroMQ.",
        discussion: """
            Each file (scenarios/load/*.yaml; format in Sources/QuickPayLoad/LoadSpec.swift and docs/PERFORMANCE.md) starts
            its own actors (CURVE unless --insecure), prepares its customers through the real flows, measures the
            raw ZeroMQ baseline, warms up, then measures. Open loop: latency counts from each operation's intended
            send time (coordinated omission is not hidden). At the end every merchant redeems, the bank's coins/s
            credited are timed, and the invariants of the scenario runner are checked.
            Writes RUNS/load-TIME/NAME/result.json and latency.svg; prints a live line on a terminal.
            Build in release mode for honest figures:
              swift build -c release && .build/release/quickpay load scenarios/load/one-merchant.yaml
            """
    )

    @Argument(help: "Load files (.yaml) or folders of them.") var paths: [String]
    @Option(help: "Open loop at this many operations/s (overrides the file).") var rate: Double?
    @Option(help: "Closed loop with this many operations outstanding (overrides the file).") var concurrency: Int?
    @Option(help: "Measured seconds (overrides the file).") var seconds: Double?
    @Option(help: "Warm-up seconds (overrides the file).") var warmup: Double?
    @Option(help: "Customers (overrides the file).") var customers: Int?
    @Option(help: "Merchants: this many, named shop-1, shop-2, ..., in the mode of the file's first (overrides the file's list).")
    var merchants: Int?
    @Option(help: "Folder for run folders.") var runs = "runs"
    @Flag(help: "Plaintext ZeroMQ between the actors (default: CurveZMQ).") var insecure = false
    @Flag(help: "Run each file twice, over CURVE and over plaintext, and print the ratio of accepted operations/s.")
    var compareTransports = false
    @Flag(help: "The actors trace every message they send and receive into their logs, as scenario runs do.")
    var traceMessages = false
    @Flag(help: "Run each file plain, with --trace-messages and with --metrics, in turn, twice, and print the ratios to the plain run (what tracing and metrics cost).")
    var compareObservability = false
    @Flag(name: .customLong("compare-request-ids"), help: "Run each file with time-ordered payment request ids (as wallets make them) and with random ones, in turn, twice, and print the ratios (what the id layout does to the merchant's index of kept answers).")
    var compareRequestIDs = false
    @Flag(help: "Start every actor with --metrics on a free port and scrape each once halfway through the run (saved as metrics-ACTOR.txt).")
    var metrics = false

    func run() throws {
        var files: [String] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw ValidationError("\(path) does not exist") }
            files += isFolder.boolValue
                ? (try FileManager.default.contentsOfDirectory(atPath: path)).filter { $0.hasSuffix(".yaml") }.sorted().map { "\(path)/\($0)" } : [path]
        }
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        var failed = false
        for file in files {
            var spec = try LoadSpec(path: file)
            if let rate { spec.pacing = .open(ratePerSecond: rate) }
            if let concurrency { spec.pacing = .closed(concurrency: concurrency) }
            if let seconds { spec.seconds = seconds }
            if let warmup { spec.warmupSeconds = warmup }
            if let customers { spec.customers = customers }
            if let merchants {
                guard merchants >= 1 else { throw ValidationError("--merchants is at least 1") }
                let mode = spec.merchants[0].mode
                spec.merchants = (1...merchants).map { LoadSpec.Merchant(id: "shop-\($0)", mode: mode) }
                spec.name += "-\(merchants)m"
            }
            if compareRequestIDs {
                var outcomes: [Bool: [(accepted: Double, p99: Double, worst: Double)]] = [:]
                for round in 1...2 {
                    for random in [false, true] {
                        var variant = spec
                        variant.randomRequestIDs = random
                        let outcome = try runOne(variant, folder: "\(runs)/load-\(stamp)/\(spec.name)-\(random ? "random" : "time-ordered")-ids-\(round)", bin: bin)
                        if !outcome.passed { failed = true }
                        outcomes[random, default: []].append((outcome.acceptedPerSecond, outcome.p99Microseconds, outcome.worstSecondP99Microseconds))
                    }
                }
                for round in 0..<2 {
                    let (ordered, random) = (outcomes[false]![round], outcomes[true]![round])
                    print(String(
                        format: "== %@ round %d: time-ordered/random ids: accepted %.0f/%.0f = %.3f, p99 %.0f/%.0f µs = %.3f, worst per-second p99 %.0f/%.0f µs = %.3f",
                        spec.name, round + 1, ordered.accepted, random.accepted, ordered.accepted / random.accepted, ordered.p99, random.p99,
                        ordered.p99 / max(1, random.p99), ordered.worst, random.worst, ordered.worst / max(1, random.worst)))
                }
            } else if compareObservability {
                // Untraced, traced and with metrics, in turn, twice: what tracing and metrics cost,
                // each against the plain run of the same round.
                let variants = ["plain", "traced", "metrics"]
                var outcomes: [String: [(accepted: Double, p50: Double, p99: Double)]] = [:]
                for round in 1...2 {
                    for variant in variants {
                        var run = self
                        run.traceMessages = variant == "traced"
                        run.metrics = variant == "metrics"
                        let outcome = try run.runOne(spec, folder: "\(runs)/load-\(stamp)/\(spec.name)-\(variant)-\(round)", bin: bin)
                        if !outcome.passed { failed = true }
                        outcomes[variant, default: []].append((outcome.acceptedPerSecond, outcome.p50Microseconds, outcome.p99Microseconds))
                    }
                }
                for round in 0..<2 {
                    let plain = outcomes["plain"]![round]
                    for variant in variants.dropFirst() {
                        let other = outcomes[variant]![round]
                        print(String(
                            format: "== %@ round %d: %@/plain: accepted %.0f/%.0f = %.3f, p50 %.0f/%.0f µs = %.3f, p99 %.0f/%.0f µs = %.3f", spec.name, round + 1,
                            variant, other.accepted, plain.accepted, other.accepted / plain.accepted, other.p50, plain.p50, other.p50 / max(1, plain.p50),
                            other.p99, plain.p99, other.p99 / max(1, plain.p99)))
                    }
                }
            } else if compareTransports {
                var accepted: [Bool: Double] = [:]
                for plaintext in [false, true] {
                    var run = self
                    run.insecure = plaintext
                    let outcome = try run.runOne(spec, folder: "\(runs)/load-\(stamp)/\(spec.name)-\(plaintext ? "plain" : "curve")", bin: bin)
                    if !outcome.passed { failed = true }
                    accepted[plaintext] = outcome.acceptedPerSecond
                }
                print(String(
                    format: "== %@: accepted %.0f/s over CURVE, %.0f/s plaintext: CURVE/plain = %.3f", spec.name, accepted[false]!, accepted[true]!,
                    accepted[false]! / accepted[true]!))
            } else {
                let folder = "\(runs)/load-\(stamp)/\(spec.name)"
                if try !runOne(spec, folder: folder, bin: bin).passed { failed = true }
            }
        }
        if failed { throw ExitCode(1) }
    }

    func runOne(_ spec: LoadSpec, folder: String, bin: String) throws -> (
        passed: Bool, acceptedPerSecond: Double, p50Microseconds: Double, p99Microseconds: Double, worstSecondP99Microseconds: Double
    ) {
        print("== \(spec.name)\(spec.description.isEmpty ? "" : ": \(spec.description)")")
        // The baseline first, on an idle machine, through the same binding and transport.
        let bench = try ZmqBench.parse(["--bytes", "78"])
        let meter = RateMeter(seconds: 0.5, rounds: 3)
        let roundTrips = try bench.measure(curve: !insecure, pipelined: false, meter: meter)
        let pipelined = try bench.measure(curve: !insecure, pipelined: true, meter: meter)
        let transport = insecure ? "plain" : "CURVE"
        print(String(format: "baseline (%@, same binding, 78 B): REQ/REP %.0f round trips/s (%.1f µs), DEALER/ROUTER %.0f msg/s", transport, roundTrips, 1e6 / roundTrips, pipelined))
        // Durability's own floor on this disk: a 4 KiB write and fdatasync, as a commit does.
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let syncMicros = try Self.fdatasyncMicroseconds(in: folder)
        print(String(format: "baseline (disk of %@): 4 KiB write + fdatasync %.0f µs (median of 300)", folder, syncMicros))
        // The same round trip to a server in another process, as a payment crosses to the
        // merchant; then with the server syncing 4 KiB before each reply: what any durable
        // payment made one at a time pays here before doing anything (measured, not summed).
        let acrossMicros = 1e6 / (try bench.measureAcrossProcesses(curve: !insecure, syncFolder: nil, meter: meter))
        let durableMicros = 1e6 / (try bench.measureAcrossProcesses(curve: !insecure, syncFolder: folder, meter: meter))
        print(String(format: "baseline (%@, REQ/REP to another process): %.1f µs; with a 4 KiB write + fdatasync before each reply: %.1f µs", transport, acrossMicros, durableMicros))
        let baseline: [String: Any] = [
            "transport": transport, "reqrep_round_trips_per_second": roundTrips, "reqrep_round_trip_us": 1e6 / roundTrips,
            "pipelined_messages_per_second": pipelined, "fdatasync_us": syncMicros,
            "reqrep_other_process_round_trip_us": acrossMicros, "durable_echo_round_trip_us": durableMicros,
        ]

        let setup = try LoadSetup(spec: spec, runFolder: folder, binFolder: bin, insecure: insecure, traceMessages: traceMessages, metrics: metrics) { print("  \($0)") }
        defer { setup.deployment.stopAll() }
        let scraper = metrics ? Self.scrapeHalfway(setup.deployment.metricsEndpoints, after: spec.warmupSeconds + spec.seconds / 2, into: folder) : nil
        let terminal = isatty(2) != 0
        var results = try LoadRunner.run(spec: spec, setup: setup, progress: terminal)
        for line in results.summary() { print("  \(line)") }
        if let scraper {
            scraper.wait()
            for line in (try? String(contentsOfFile: "\(folder)/metrics-summary.txt", encoding: .utf8))?.split(separator: "\n") ?? [] { print("  \(line)") }
        }

        // Redemption: every merchant hands its coins to the bank; timed until all are credited.
        let redemption = try LoadRunner.redeemAll(setup)
        print(String(format: "  redemption: %d coins (%d vouchers) credited in %.3f s: %.0f coins/s", redemption.coins, redemption.vouchers, redemption.seconds, Double(redemption.coins) / max(redemption.seconds, 1e-9)))

        // The invariants of the scenario runner, on the final state.
        var invariants: [String] = []
        if let evidence = try Evidence.read(setup.deployment, merchants: spec.merchants.map(\.id)) {
            invariants = evidence.failures(previous: nil, expectedDepositsPaise: setup.depositedPaise)
            let acceptedAtMerchants = evidence.data.merchants.values.flatMap { $0 }.reduce(0) { $0 + $1.lastIndex }
            print("  merchants hold \(acceptedAtMerchants) coin positions; the bank credited every one: \(invariants.isEmpty ? "yes" : "no")")
        } else {
            invariants.append("the bank did not answer its state")
        }
        for failure in invariants { print("  INVARIANT BROKEN: \(failure)") }
        if invariants.isEmpty { print("  invariants hold: conservation, double entry, at-most-once credit, merchants' money = coins credited") }

        // Ratios to the baseline measured above.
        var ratios: [String: Double] = [:]
        if let single = results.percentiles(.single) {
            ratios["single_p50_over_reqrep_round_trip"] = Double(single["p50_us"]!) / (1e6 / roundTrips)
            // What a durable payment cannot go below: one round trip plus one sync to disk.
            ratios["single_p50_over_round_trip_plus_fdatasync"] = Double(single["p50_us"]!) / (1e6 / roundTrips + syncMicros)
            // ... and over that floor measured whole: what the merchant and the customer add.
            ratios["single_p50_over_durable_echo"] = Double(single["p50_us"]!) / durableMicros
        }
        ratios["accepted_per_second_over_pipelined"] = Double(results.totalAccepted) / spec.seconds / pipelined
        for merchant in spec.merchants {
            if let ratio = results.memoryRatio("merchant-\(merchant.id)") { ratios["memory_last_over_first_merchant-\(merchant.id)"] = ratio }
        }
        for (name, value) in ratios.sorted(by: { $0.key < $1.key }) { print(String(format: "  ratio %@: %.3f", name, value)) }

        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let json = results.json(baseline: baseline, invariants: invariants, extra: [
            "ratios": ratios, "transport": transport,
            "redemption": ["coins": redemption.coins, "vouchers": redemption.vouchers, "seconds": redemption.seconds,
                           "coins_per_second": Double(redemption.coins) / max(redemption.seconds, 1e-9)],
        ])
        try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: "\(folder)/result.json"))
        try results.svg().write(toFile: "\(folder)/latency.svg", atomically: true, encoding: .utf8)
        print("  wrote \(folder)/result.json and \(folder)/latency.svg")
        print("  report: \(try LoadReport.write(folder: folder))")
        let acceptedPerSecond = Double(results.totalAccepted) / spec.seconds
        let figures = results.percentiles(.single) ?? results.percentiles(.multi)
        let worst = Double(results.worstSecondP99 ?? 0)
        results = LoadResults.empty(spec)  // release the histograms before the next file
        return (invariants.isEmpty, acceptedPerSecond, Double(figures?["p50_us"] ?? 0), Double(figures?["p99_us"] ?? 0), worst)
    }

    /// Scrapes every actor's /metrics once, `seconds` from now (halfway through the measured
    /// window), on a thread of its own: saves each answer as metrics-ACTOR.txt and a line per
    /// actor (status, series, requests answered) in metrics-summary.txt.
    static func scrapeHalfway(_ endpoints: [String: String], after seconds: Double, into folder: String) -> DispatchGroup {
        let group = DispatchGroup()
        group.enter()
        Thread.detachNewThread {
            defer { group.leave() }
            Thread.sleep(forTimeInterval: seconds)
            var summary: [String] = []
            for (actor, endpoint) in endpoints.sorted(by: { $0.key < $1.key }) {
                do {
                    let (status, body) = try httpGet(endpoint)
                    try body.write(toFile: "\(folder)/metrics-\(actor).txt", atomically: true, encoding: .utf8)
                    let samples = body.split(separator: "\n").filter { !$0.hasPrefix("#") }
                    let names = Set(samples.map { $0.prefix { $0 != "{" && $0 != " " } })
                    let answered = samples.filter { $0.hasPrefix("quickpay_requests_total") }.compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
                    summary.append("metrics \(actor) (http://\(endpoint)/metrics, halfway): HTTP \(status), \(names.count) series, \(samples.count) samples, \(Int(answered)) requests answered so far")
                } catch {
                    summary.append("metrics \(actor): \(error)")
                }
            }
            try? summary.joined(separator: "\n").write(toFile: "\(folder)/metrics-summary.txt", atomically: true, encoding: .utf8)
        }
        return group
    }

    /// The median time of a 4 KiB `pwrite` plus `fdatasync` in `folder`: the disk's own floor
    /// under a durable commit, measured in the same run as everything else.
    static func fdatasyncMicroseconds(in folder: String, samples: Int = 300) throws -> Double {
        let probe = try SyncProbe(folder: folder)
        var times: [Double] = []
        for _ in 0..<samples {
            let started = nowSeconds()
            try probe.writeAndSync()
            times.append((nowSeconds() - started) * 1e6)
        }
        return times.sorted()[times.count / 2]
    }
}
