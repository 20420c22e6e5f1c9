import Foundation

/// The HTML report of a load run, from its folder: `result.json` (what `quickpay load`
/// measured: per-second timeline, latency per operation, memory per actor, the baselines and
/// ratios, errors by code, invariants) and `latency.svg` (the percentile curves, inlined).
public enum LoadReport {
    @discardableResult
    public static func write(folder: String) throws -> String {
        let path = "\(folder)/report.html"
        try build(folder: folder).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    public static func build(folder: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: "\(folder)/result.json"),
            let result = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { throw RunReport.Failure(description: "\(folder)/result.json is missing or not JSON: is \(folder) a load run folder?") }
        let name = result["name"] as? String ?? "load"
        var body = "<h1>QuickPay load run: \(HTML.escape(name))</h1>"
        let invariants = result["invariant_failures"] as? [String] ?? []
        body += "<p class=\"\(invariants.isEmpty ? "pass" : "fail")\">\(invariants.isEmpty ? "invariants held at the end (conservation, double entry, at-most-once credit, merchants' money = coins credited)" : "INVARIANTS BROKEN")</p>"
        for failure in invariants { body += "<div class=\"fail\">\(HTML.escape(failure))</div>" }

        let pacing = result["pacing"] as? [String: Any] ?? [:]
        let seconds = result["seconds"] as? Double ?? 0
        body += "<table>"
        func row(_ label: String, _ value: String) { body += "<tr><th>\(HTML.escape(label))</th><td>\(value)</td></tr>" }
        row("file", "<span class=\"mono\">\(HTML.escape(result["file"] as? String ?? ""))</span>")
        if let rate = pacing["open_loop_rate"] { row("pacing", "open loop at \(HTML.escape("\(rate)"))/s (latency from each intended send time)") }
        if let concurrency = pacing["closed_loop_concurrency"] { row("pacing", "closed loop, \(HTML.escape("\(concurrency)")) outstanding") }
        row("transport", HTML.escape(result["transport"] as? String ?? "-"))
        row("customers, merchants", HTML.escape("\(result["customers"] ?? "-"), \((result["merchants"] as? [Any])?.count ?? 0)"))
        row("measured", "\(HTML.number(seconds, decimals: 1)) s after \(HTML.number(result["warmup_seconds"] as? Double ?? 0, decimals: 1)) s of warm-up")
        row("offered", "\(HTML.number(Double(result["offered"] as? Int ?? 0))) (\(HTML.number(result["offered_per_second"] as? Double ?? 0))/s)")
        row("accepted", "\(HTML.number(Double(result["accepted"] as? Int ?? 0))) (\(HTML.number(result["accepted_per_second"] as? Double ?? 0))/s)")
        if let client = result["client_receipt_checks"] as? [String: Any], (client["payments"] as? Int ?? 0) > 0 {
            row("client work", "\(HTML.escape("\(client["receipts"] ?? 0)")) receipts checked as a wallet does, \(HTML.number(client["microseconds_per_payment"] as? Double ?? 0, decimals: 1)) µs per payment (inside the latencies)")
        }
        if let redemption = result["redemption"] as? [String: Any] {
            row("redemption", "\(HTML.escape("\(redemption["coins"] ?? 0)")) coins of \(HTML.escape("\(redemption["vouchers"] ?? 0)")) vouchers credited in \(HTML.number(redemption["seconds"] as? Double ?? 0, decimals: 3)) s")
        }
        body += "</table>"

        body += "<h3>Baselines (measured in the same run) and ratios</h3><table>"
        for (key, value) in (result["baseline"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
            body += "<tr><th class=\"mono\">\(HTML.escape(key))</th><td class=\"num\">\(format(value))</td></tr>"
        }
        for (key, value) in (result["ratios"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
            body += "<tr><th class=\"mono\">ratio \(HTML.escape(key))</th><td class=\"num\">\(format(value, decimals: 3))</td></tr>"
        }
        body += "</table>"

        let timeline = result["timeline"] as? [[String: Any]] ?? []
        let labels = timeline.map { "\($0["second"] ?? "")" }
        body += "<h3>Throughput over time (answers per second)</h3>"
        body += HTML.lineChart(
            series: [
                (name: "accepted", values: timeline.map { Double($0["ok"] as? Int ?? 0) }),
                (name: "errors", values: timeline.map { Double($0["errors"] as? Int ?? 0) }),
            ], xLabels: labels, width: 900, height: 220, yUnit: "/s")
        body += "<h3>Latency over time (per second)</h3>"
        body += HTML.lineChart(
            series: ["p50_us", "p99_us", "max_us"].map { key in
                (name: key.replacingOccurrences(of: "_us", with: ""), values: timeline.map { ($0[key] as? Double ?? Double($0[key] as? Int ?? 0)) / 1000 })
            }, xLabels: labels, width: 900, height: 240, yUnit: "ms", logY: true)
        let worst = timeline.compactMap { ($0["p99_us"] as? Double) ?? ($0["p99_us"] as? Int).map(Double.init) }.max()
        if let worst { body += "<p>Worst per-second p99: <b>\(HTML.number(worst / 1000, decimals: 2)) ms</b>.</p>" }

        body += "<h3>Latency by operation</h3><table><tr><th>operation</th><th class=\"num\">offered</th><th class=\"num\">accepted</th>"
        body += "<th class=\"num\">p50 µs</th><th class=\"num\">p90 µs</th><th class=\"num\">p99 µs</th><th class=\"num\">p99.9 µs</th><th class=\"num\">max µs</th></tr>"
        for (operation, value) in (result["latency_by_type"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
            let figures = value as? [String: Any] ?? [:]
            body += "<tr><td>\(HTML.escape(operation))</td>"
            for key in ["offered", "accepted", "p50_us", "p90_us", "p99_us", "p99_9_us", "max_us"] { body += "<td class=\"num\">\(format(figures[key] ?? ""))</td>" }
            body += "</tr>"
        }
        body += "</table>"
        // Inlined only as the chart `quickpay load` draws: no script, no event handler, no link.
        if let svg = try? String(contentsOfFile: "\(folder)/latency.svg", encoding: .utf8), let start = svg.range(of: "<svg") {
            let lowered = svg.lowercased()
            let handler = lowered.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) != nil
            if handler || ["<script", "javascript:", "href", "<foreign", "<iframe", "<image"].contains(where: lowered.contains) {
                body += "<h3>Percentile curves</h3><p><a href=\"latency.svg\">latency.svg</a> (not inlined: it holds more than a chart)</p>"
            } else {
                body += "<h3>Percentile curves</h3>" + svg[start.lowerBound...]
            }
        }

        let memory = result["memory_kib"] as? [[String: Any]] ?? []
        let actors = Set(memory.compactMap { $0["actor"] as? String }).sorted()
        if !actors.isEmpty {
            let secondsSeen = Array(Set(memory.compactMap { $0["second"] as? Double })).sorted()
            body += "<h3>Memory per actor (resident, MiB)</h3>"
            body += HTML.lineChart(
                series: actors.map { actor in
                    (name: actor, values: secondsSeen.map { second in
                        memory.first { $0["actor"] as? String == actor && $0["second"] as? Double == second }.map { Double($0["kib"] as? Int ?? 0) / 1024 }
                    })
                }, xLabels: secondsSeen.map { HTML.number($0) }, width: 900, height: 220, yUnit: "MiB")
        }

        let errors = result["errors"] as? [String: Int] ?? [:]
        body += "<h3>Errors by code</h3>"
        if errors.isEmpty {
            body += "<p class=\"pass\">none</p>"
        } else {
            body += "<table><tr><th>code</th><th class=\"num\">count</th></tr>"
            for (code, count) in errors.sorted(by: { $0.value > $1.value }) { body += "<tr><td>\(HTML.escape(code))</td><td class=\"num\">\(count)</td></tr>" }
            body += "</table>"
        }
        for file in ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() where file.hasPrefix("metrics-") {
            body += "<p>Scraped during the run: <a href=\"\(HTML.escape(file))\">\(HTML.escape(file))</a></p>"
        }
        return HTML.page(title: "QuickPay load \(name)", body: body)
    }

    static func format(_ value: Any, decimals: Int = 1) -> String {
        if let integer = value as? Int { return HTML.number(Double(integer)) }
        if let double = value as? Double { return HTML.number(double, decimals: double < 100 ? decimals : 0) }
        return HTML.escape("\(value)")
    }
}
