import Foundation
import Histogram

/// What a load run measured: latency per operation (HdrHistogram, microseconds, from the
/// intended send time), offered and accepted counts, errors by code, a per-second timeline,
/// the actors' memory, and the baseline and invariants the command adds.
public struct LoadResults {
    public let spec: LoadSpec
    var histograms: [LoadSpec.Operation: Histogram<UInt64>] = [:]
    public var offered: [LoadSpec.Operation: Int] = [:]
    public var accepted: [LoadSpec.Operation: Int] = [:]
    public var errors: [String: Int] = [:]
    /// Per measured second: answers, errors, and their latency histogram.
    var timeline: [Int: (ok: Int, errors: Int, histogram: Histogram<UInt64>)] = [:]
    /// Resident memory (KiB) of the actors, sampled each second: (second, actor, KiB).
    public var memory: [(second: Double, actor: String, kib: Int)] = []
    /// The client's own work on measured payments: receipts checked as a wallet does, and the
    /// time it took (inside the latencies above; also reported alone).
    public var receiptsChecked = 0
    public var receiptNanoseconds: UInt64 = 0
    public var paymentsChecked = 0
    /// Measured payments that waited in the generator because their customer's previous payment
    /// at an online merchant was not answered yet (a customer pays an online merchant one payment
    /// at a time). Their latency counts from when they were due, the wait included.
    public var heldForTheirCustomer = 0
    /// Redemptions that waited in the generator for one of their merchant's eight to be answered.
    public var redeemsHeld = 0
    /// Closed loop: users that stopped because their next operation could not be sent (their
    /// coins ran out, the send failed). The loop then held fewer operations than it says.
    public var closedLoopUsersStopped = 0

    /// The highest p99 of any measured second (µs), or nil before any answer.
    public var worstSecondP99: UInt64? {
        timeline.values.map { $0.histogram.valueAtPercentile(99) }.max()
    }

    mutating func clientWork(receipts: Int, nanoseconds: UInt64) {
        receiptsChecked += receipts
        paymentsChecked += 1
        receiptNanoseconds += nanoseconds
    }

    init(spec: LoadSpec) { self.spec = spec }

    static func histogram() -> Histogram<UInt64> {
        Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    }

    /// One outcome. `latencyNanoseconds` nil: the operation never left (no latency to count).
    mutating func record(_ operation: LoadSpec.Operation, latencyNanoseconds: UInt64?, at offset: UInt64, error: String?) {
        if let error { errors[error, default: 0] += 1 } else { accepted[operation, default: 0] += 1 }
        guard let latencyNanoseconds else { return }
        let micros = max(1, latencyNanoseconds / 1000)
        // Mutated in place: a copy taken out of the dictionary and put back would copy the
        // histogram's counts on every answer (copy on write: two references).
        if histograms[operation] == nil { histograms[operation] = Self.histogram() }
        _ = histograms[operation]!.record(micros)
        let second = Int(offset / 1_000_000_000)
        if timeline[second] == nil { timeline[second] = (0, 0, Self.histogram()) }
        if error == nil { timeline[second]!.ok += 1 } else { timeline[second]!.errors += 1 }
        _ = timeline[second]!.histogram.record(micros)
    }

    mutating func sampleMemory(_ pids: [String: Int32], second: Double) {
        for (actor, pid) in pids {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
            else { continue }
            memory.append((second, actor, kib))
        }
    }

    public var totalAccepted: Int { accepted.values.reduce(0, +) }
    public var totalOffered: Int { offered.values.reduce(0, +) }
    public var totalErrors: Int { errors.values.reduce(0, +) }

    func combined() -> Histogram<UInt64> {
        var all = Self.histogram()
        for histogram in histograms.values { all.add(histogram) }
        return all
    }

    func progressLine(elapsed: Double, warmup: Bool) -> String {
        let second = Int(elapsed) - 1
        guard !warmup, let slot = timeline[max(second, 0)] else {
            return String(format: "%@ %5.1f s", warmup ? "warm-up" : "running", elapsed)
        }
        let p99 = Double(slot.histogram.valueAtPercentile(99)) / 1000
        return String(format: "%5.1f s  accepted %7d/s  errors %5d  p99 %8.2f ms", elapsed, slot.ok, slot.errors, p99)
    }

    /// Percentiles of one operation, in microseconds.
    public func percentiles(_ operation: LoadSpec.Operation) -> [String: UInt64]? {
        guard let histogram = histograms[operation], histogram.totalCount > 0 else { return nil }
        return [
            "p50_us": histogram.valueAtPercentile(50), "p90_us": histogram.valueAtPercentile(90), "p99_us": histogram.valueAtPercentile(99),
            "p99_9_us": histogram.valueAtPercentile(99.9), "max_us": histogram.max, "count": histogram.totalCount,
        ]
    }

    /// Memory growth of `actor` over the measured run: last sample / first sample.
    public func memoryRatio(_ actor: String) -> Double? {
        let samples = memory.filter { $0.actor == actor && $0.second >= 0 }.sorted { $0.second < $1.second }
        guard let first = samples.first, let last = samples.last, first.kib > 0, samples.count >= 2 else { return nil }
        return Double(last.kib) / Double(first.kib)
    }

    // MARK: Output

    public func json(baseline: [String: Any], invariants: [String], extra: [String: Any]) -> [String: Any] {
        var perType: [String: Any] = [:]
        for operation in LoadSpec.Operation.allCases {
            guard var figures: [String: Any] = percentiles(operation) else { continue }
            figures["offered"] = offered[operation, default: 0]
            figures["accepted"] = accepted[operation, default: 0]
            perType[operation.rawValue] = figures
        }
        let seconds = spec.seconds
        var out: [String: Any] = [
            "name": spec.name, "file": spec.path, "customers": spec.customers, "merchants": spec.merchants.map { ["id": $0.id, "mode": $0.mode.rawValue] },
            "mix": Dictionary(uniqueKeysWithValues: spec.mix.map { ($0.key.rawValue, $0.value) }),
            "warmup_seconds": spec.warmupSeconds, "seconds": seconds,
            "offered": totalOffered, "accepted": totalAccepted,
            "offered_per_second": Double(totalOffered) / seconds, "accepted_per_second": Double(totalAccepted) / seconds,
            "errors": errors, "latency_by_type": perType, "baseline": baseline, "invariant_failures": invariants,
            "timeline": timeline.keys.sorted().map { second -> [String: Any] in
                let slot = timeline[second]!
                return ["second": second, "ok": slot.ok, "errors": slot.errors, "p50_us": slot.histogram.valueAtPercentile(50),
                        "p99_us": slot.histogram.valueAtPercentile(99), "max_us": slot.histogram.max]
            },
            "memory_kib": memory.map { ["second": $0.second, "actor": $0.actor, "kib": $0.kib] },
            "client_receipt_checks": [
                "receipts": receiptsChecked, "payments": paymentsChecked,
                "microseconds_per_payment": paymentsChecked == 0 ? 0 : Double(receiptNanoseconds) / Double(paymentsChecked) / 1000,
            ],
            "payments_held_for_their_customer": heldForTheirCustomer, "redeems_held": redeemsHeld,
            "closed_loop_users_stopped": closedLoopUsersStopped,
            // Since redemptions wait for the bank (`"wait": true`); before, to the control's acknowledgement.
            "redeem_timed_to": "the bank's crediting, recorded by the merchant",
        ]
        switch spec.pacing {
        case .open(let rate): out["pacing"] = ["open_loop_rate": rate]
        case .closed(let concurrency): out["pacing"] = ["closed_loop_concurrency": concurrency]
        }
        for (key, value) in extra { out[key] = value }
        return out
    }

    /// An SVG with two panels: latency over time (p50, p99, max per second) and the percentile
    /// curve of each operation (x: 1/(1-p) on a log axis, so the tail is visible).
    public func svg() -> String {
        let width = 960.0, panelHeight = 300.0, margin = 60.0
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(panelHeight * 2 + margin * 3))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(margin)" y="20" font-size="14">\(escape(spec.name)): latency from intended send time (log scale)</text>

            """
        let maxLatency = max(Double(combined().max), 10)
        let logMax = log10(maxLatency * 1.5)
        func y(_ micros: Double, top: Double) -> Double {
            let value = log10(max(micros, 1))
            return top + panelHeight - value / logMax * panelHeight
        }
        func axis(top: Double, label: String) -> String {
            var text = "<text x=\"\(margin)\" y=\"\(top - 8)\">\(label)</text>\n"
            text += "<line x1=\"\(margin)\" y1=\"\(top)\" x2=\"\(margin)\" y2=\"\(top + panelHeight)\" stroke=\"black\"/>\n"
            text += "<line x1=\"\(margin)\" y1=\"\(top + panelHeight)\" x2=\"\(width - 20)\" y2=\"\(top + panelHeight)\" stroke=\"black\"/>\n"
            var tick = 1.0
            while tick <= maxLatency * 1.5 {
                let ty = y(tick, top: top)
                let name = tick >= 1000 ? "\(Int(tick / 1000)) ms" : "\(Int(tick)) µs"
                text += "<line x1=\"\(margin - 4)\" y1=\"\(ty)\" x2=\"\(width - 20)\" y2=\"\(ty)\" stroke=\"#ddd\"/><text x=\"4\" y=\"\(ty + 4)\">\(name)</text>\n"
                tick *= 10
            }
            return text
        }
        // Panel 1: over time.
        let top1 = margin
        out += axis(top: top1, label: "per second of the measured run: p50 (blue), p99 (orange), max (red)")
        let seconds = max(Double(timeline.keys.max() ?? 0) + 1, 1)
        func x(_ second: Double) -> Double { margin + second / seconds * (width - margin - 20) }
        for (name, color, pick) in [("p50", "#1f77b4", 50.0), ("p99", "#ff7f0e", 99.0), ("max", "#d62728", 100.0)] {
            let points = timeline.keys.sorted().map { second -> String in
                let h = timeline[second]!.histogram
                let value = pick == 100 ? Double(h.max) : Double(h.valueAtPercentile(pick))
                return "\(x(Double(second) + 0.5)),\(y(value, top: top1))"
            }
            out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"><title>\(name)</title></polyline>\n"
        }
        out += "<text x=\"\(width / 2)\" y=\"\(top1 + panelHeight + 16)\">seconds</text>\n"
        // Panel 2: percentile curves.
        let top2 = margin * 2 + panelHeight
        out += axis(top: top2, label: "percentile curve by operation (x: 50%, 90%, 99%, 99.9%, 99.99%)")
        let colors: [LoadSpec.Operation: String] = [.single: "#1f77b4", .multi: "#2ca02c", .load: "#9467bd", .redeem: "#8c564b"]
        let xMax = 5.0  // up to 99.999 %
        func px(_ percentile: Double) -> Double { margin + log10(1 / (1 - min(percentile, 99.999) / 100)) / xMax * (width - margin - 20) }
        for (position, label) in [(50.0, "50%"), (90.0, "90%"), (99.0, "99%"), (99.9, "99.9%"), (99.99, "99.99%")] {
            out += "<text x=\"\(px(position) - 10)\" y=\"\(top2 + panelHeight + 16)\">\(label)</text>\n"
        }
        var legend = 0
        for operation in LoadSpec.Operation.allCases {
            guard let histogram = histograms[operation], histogram.totalCount > 0 else { continue }
            var points: [String] = []
            var percentile = 0.0
            while percentile <= 99.999 {
                points.append("\(px(percentile)),\(y(Double(histogram.valueAtPercentile(percentile)), top: top2))")
                percentile = percentile < 90 ? percentile + 5 : 100 - (100 - percentile) / 1.5
            }
            let color = colors[operation] ?? "black"
            out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
            out += "<text x=\"\(width - 200)\" y=\"\(top2 + 20 + Double(legend) * 16)\" fill=\"\(color)\">\(operation.rawValue) (\(histogram.totalCount))</text>\n"
            legend += 1
        }
        return out + "</svg>\n"
    }

    func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }

    /// The human summary.
    public func summary() -> [String] {
        var lines: [String] = []
        let seconds = spec.seconds
        lines.append(String(
            format: "offered %d (%.0f/s), accepted %d (%.0f/s), errors %d", totalOffered, Double(totalOffered) / seconds, totalAccepted,
            Double(totalAccepted) / seconds, totalErrors))
        for (code, count) in errors.sorted(by: { $0.key < $1.key }) { lines.append("  error \(code): \(count)") }
        lines.append("latency from intended send time (µs):   p50      p90      p99    p99.9      max    count")
        for operation in LoadSpec.Operation.allCases {
            guard let p = percentiles(operation) else { continue }
            let figures = ["p50_us", "p90_us", "p99_us", "p99_9_us", "max_us", "count"].map { String(p[$0]!).leftPadded(8) }
            lines.append("  " + operation.rawValue.padding(toLength: 38, withPad: " ", startingAt: 0) + figures.joined(separator: " "))
        }
        if paymentsChecked > 0 {
            lines.append(String(
                format: "client work: %d receipts checked as a wallet does (signed root once per voucher, each receipt from the last), %.1f µs per payment, inside the latencies",
                receiptsChecked, Double(receiptNanoseconds) / Double(paymentsChecked) / 1000))
        }
        if closedLoopUsersStopped > 0, case .closed(let concurrency) = spec.pacing {
            lines.append("closed loop: \(closedLoopUsersStopped) of \(concurrency) users stopped, their next operation not sent (see the errors): fewer were outstanding than asked")
        }
        if heldForTheirCustomer > 0 {
            lines.append("held in the generator: \(heldForTheirCustomer) payments waited for their customer's previous payment at an online merchant (counted from when they were due)")
        }
        if redeemsHeld > 0 {
            lines.append("held in the generator: \(redeemsHeld) redemptions waited for one of the eight out at their merchant to be answered (counted from when they were due)")
        }
        return lines
    }
}

extension String {
    /// Right-aligned in `width` columns (the benchmark tables).
    public func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
