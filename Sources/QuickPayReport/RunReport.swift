import Foundation

/// The HTML report of a scenario run, built from its folder alone: `results.json` (what the
/// runner judged: steps, codes, latencies, the ledger and the auditor's checks after each step)
/// and each scenario's `logs/*.log` (the messages, for the diagram). `quickpay run` writes it at
/// the end of a run; `quickpay report DIR` builds it again (from logs gathered from several
/// hosts, say).
public enum RunReport {
    /// Actions that attack (their steps are highlighted).
    public static let attackActions: Set<String> = ["attack", "merchant-attack", "raw", "flood", "login-flood", "attach"]

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Builds `report.html` in `folder` and returns its path.
    @discardableResult
    public static func write(folder: String) throws -> String {
        let html = try build(folder: folder)
        let path = "\(folder)/report.html"
        try html.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    public static func build(folder: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: "\(folder)/results.json"),
            let results = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else { throw Failure(description: "\(folder)/results.json is missing or not JSON: is \(folder) a run folder of quickpay run?") }
        let scenarios = results["scenarios"] as? [[String: Any]] ?? []
        let passed = scenarios.filter { $0["passed"] as? Bool == true }.count
        let meta = results["meta"] as? [String: Any] ?? [:]
        var body = "<div class=\"run-summary\"><h1>QuickPay scenario run</h1>"
        body += "<p><span class=\"\(passed == scenarios.count ? "pass" : "fail")\">\(passed) of \(scenarios.count) scenarios passed</span>"
        body += " in \(HTML.number(results["seconds"] as? Double ?? 0, decimals: 1)) s; seed \(HTML.escape("\(results["seed"] ?? meta["seed"] ?? "-")")).</p>"
        body += "<table><tr><th>reproduce</th><td class=\"mono\">\(HTML.escape(meta["command"] as? String ?? "-"))</td></tr>"
        for key in ["started", "host", "git_commit", "quickpay", "os", "transport", "report_built"] {
            guard let value = meta[key] else { continue }
            body += "<tr><th>\(HTML.escape(key.replacingOccurrences(of: "_", with: " ")))</th><td class=\"mono\">\(HTML.escape("\(value)"))</td></tr>"
        }
        body += "</table>"
        var summaryAnchors = Anchors()
        body += "<table><tr><th>scenario</th><th>result</th><th class=\"num\">steps</th><th class=\"num\">seconds</th><th>file</th></tr>"
        for scenario in scenarios {
            let name = scenario["name"] as? String ?? "?"
            let ok = scenario["passed"] as? Bool == true
            body += "<tr class=\"\(ok ? "" : "failed")\"><td><a href=\"#\(summaryAnchors.next(name))\">\(HTML.escape(name))</a></td><td class=\"\(ok ? "pass" : "fail")\">\(ok ? "passed" : "FAILED")</td>"
            body += "<td class=\"num\">\((scenario["steps"] as? [Any])?.count ?? 0)</td><td class=\"num\">\(HTML.number(scenario["seconds"] as? Double ?? 0, decimals: 1))</td>"
            body += "<td class=\"mono\">\(HTML.escape(scenario["path"] as? String ?? ""))</td></tr>"
        }
        body += "</table></div>"
        var anchors = Anchors()
        for scenario in scenarios { body += section(scenario, folder: folder, anchor: anchors.next(scenario["name"] as? String ?? "?")) }
        return HTML.page(title: "QuickPay run \(URL(fileURLWithPath: folder).lastPathComponent)", body: body)
    }

    static func anchor(_ name: String) -> String {
        "s-" + name.map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
    }

    /// Ids for the scenarios in order: two names that map to one id (`a.b`, `a-b`) get `-2`, ...
    struct Anchors {
        var seen: [String: Int] = [:]
        mutating func next(_ name: String) -> String {
            let base = RunReport.anchor(name)
            seen[base, default: 0] += 1
            return seen[base]! == 1 ? base : "\(base)-\(seen[base]!)"
        }
    }

    static func section(_ scenario: [String: Any], folder: String, anchor: String) -> String {
        let name = scenario["name"] as? String ?? "?"
        let ok = scenario["passed"] as? Bool == true
        let steps = scenario["steps"] as? [[String: Any]] ?? []
        let scenarioFolder = "\(folder)/\(name)"
        var html = "<details class=\"scenario\" id=\"\(anchor)\"\(ok ? "" : " open")><summary><h2>\(HTML.escape(name))</h2>"
        html += "<span class=\"badge \(ok ? "pass" : "fail")\">\(ok ? "passed" : "FAILED")</span>"
        html += " <span class=\"muted\">\(HTML.number(scenario["seconds"] as? Double ?? 0, decimals: 1)) s · \(steps.count) steps · \(HTML.escape(scenario["path"] as? String ?? ""))</span></summary>"
        if let setup = scenario["setup_failure"] as? String { html += "<p class=\"fail\">could not run: \(HTML.escape(setup))</p>" }
        for failure in scenario["final_failures"] as? [String] ?? [] { html += "<p class=\"fail\">final: \(HTML.escape(failure))</p>" }

        html += "<table><tr><th>#</th><th>step</th><th>expected</th><th>observed</th><th class=\"num\">ms</th><th>notes</th></tr>"
        for step in steps {
            let passed = step["passed"] as? Bool == true
            let attack = attackActions.contains(step["action"] as? String ?? "")
            let classes = [passed ? "" : "failed", attack ? "attack" : ""].filter { !$0.isEmpty }.joined(separator: " ")
            html += "<tr class=\"\(classes)\"><td class=\"num\">\(HTML.escape("\(step["index"] ?? "")"))</td><td class=\"mono\">\(HTML.escape(step["step"] as? String ?? ""))</td>"
            html += "<td>\(HTML.escape(step["expected"] as? String ?? ""))</td><td class=\"\(passed ? "pass" : "fail")\">\(HTML.escape(step["actual"] as? String ?? ""))</td>"
            html += "<td class=\"num\">\(HTML.escape("\(step["milliseconds"] ?? "")"))</td><td>"
            for failure in step["failures"] as? [String] ?? [] { html += "<div class=\"fail\">\(HTML.escape(failure))</div>" }
            for detail in step["details"] as? [String] ?? [] { html += "<div class=\"muted\">\(HTML.escape(detail))</div>" }
            html += "</td></tr>"
        }
        html += "</table>"
        html += money(steps)
        html += checks(steps)

        let logs = RunLogs(folder: "\(scenarioFolder)/logs")
        let diagram = Diagram(logs: logs)
        let stepMarks = steps.map { step in
            (
                index: step["index"] as? Int ?? 0, label: "\(step["step"] as? String ?? "") → \(step["actual"] as? String ?? "")",
                attack: attackActions.contains(step["action"] as? String ?? ""), failed: step["passed"] as? Bool != true,
                startedAt: step["started_at"] as? Double ?? 0
            )
        }
        // What the runner did to processes: a kill -9 leaves no line in the victim's log.
        let done: [String: (Diagram.Marker.Kind, String)] = [
            "kill": (.crash, "killed (SIGKILL)"), "stop": (.pause, "stopped (SIGSTOP)"), "cont": (.resume, "continued (SIGCONT)"),
        ]
        let runnerMarkers = steps.compactMap { step -> Diagram.Marker? in
            guard let actor = step["actor"] as? String, let (kind, label) = done[step["action"] as? String ?? ""] else { return nil }
            return Diagram.Marker(actor: actor, kind: kind, label: label, clock: 0, time: step["started_at"] as? Double ?? 0)
        }
        let rows = diagram.rows(steps: stepMarks, extraMarkers: runnerMarkers)
        let refusals = diagram.messages.filter(\.isRefusal).count
        html += "<h3>Messages</h3><p class=\"muted\">\(diagram.messages.count) messages between \(diagram.lifelines.count) processes"
        html += "\(refusals > 0 ? ", \(refusals) refused (red)" : ""); identical messages in a row, and repeated request/answer pairs, are drawn once with ×N."
        html += " Order: each process's own order, every receive after its send (matched by request id and type), else the logs' times (a hybrid logical clock).\(diagram.brokenPairs > 0 ? " \(diagram.brokenPairs) receives could not be placed after their sends." : "")\(logs.unreadableLines > 0 ? " \(logs.unreadableLines) log lines were not JSON (a crash's output, say) and are not drawn." : "")</p>"
        if logs.files.isEmpty {
            html += "<p class=\"fail\">No logs in \(HTML.escape(name))/logs: for actors on other hosts, copy each one's log there (QUICKPAY_TRACE_MESSAGES=1) and run quickpay report again.</p>"
        }
        let pages = DiagramSVG.pages(diagram, rows: rows, id: anchor)
        html += "<div class=\"diagram\" data-messages=\"\(diagram.messages.count)\"><div class=\"pager\"></div>"
        for page in pages { html += "<div class=\"page\">\(page)</div>" }
        html += "</div>"

        html += "<p>Files: "
        var links: [String] = []
        for (actor, file) in logs.files.sorted(by: { $0.key < $1.key }) {
            links.append("<a href=\"\(HTML.escape("\(name)/logs/\(file)"))\">\(HTML.escape(actor)).log</a>")
        }
        let dataFolder = "\(scenarioFolder)/data"
        for actor in ((try? FileManager.default.contentsOfDirectory(atPath: dataFolder)) ?? []).sorted() {
            for file in ((try? FileManager.default.contentsOfDirectory(atPath: "\(dataFolder)/\(actor)")) ?? []).sorted() where file.hasSuffix(".sqlite") {
                links.append("<a href=\"\(HTML.escape("\(name)/data/\(actor)/\(file)"))\">\(HTML.escape(actor))/\(HTML.escape(file))</a>")
            }
        }
        html += links.joined(separator: " · ") + "</p></details>"
        return html
    }

    /// Each ledger account's balance (rupees) after each step, external accounts left out.
    static func money(_ steps: [[String: Any]]) -> String {
        let ledgers = steps.map { $0["ledger"] as? [String: Int] }
        let accounts = Set(ledgers.compactMap { $0 }.flatMap(\.keys)).filter { !$0.hasPrefix("external:") }.sorted()
        guard !accounts.isEmpty else { return "" }
        let series = accounts.map { account in
            (name: account, values: ledgers.map { ledger in ledger.map { Double($0[account] ?? 0) / 100 } })
        }
        return "<h3>Money after each step</h3>"
            + HTML.lineChart(series: series, xLabels: steps.map { "\($0["index"] ?? "")" }, width: 760, height: 190, yUnit: "Rs", emphasis: "float:vouchers")
    }

    /// The auditor's checks after each step: green held, red failed, blank not read.
    static func checks(_ steps: [[String: Any]]) -> String {
        let perStep = steps.map { ($0["checks"] as? [[String: Any]] ?? []) }
        var names: [String] = []
        for list in perStep { for check in list { if let name = check["name"] as? String, !names.contains(name) { names.append(name) } } }
        guard !names.isEmpty else { return "" }
        let failedAny = perStep.contains { $0.contains { $0["holds"] as? Bool == false } }
        var html = "<h3>Invariant checks after each step \(failedAny ? "<span class=\"fail\">(some failed)</span>" : "<span class=\"pass\">(all held)</span>")</h3>"
        html += "<table class=\"grid\"><tr><th></th>"
        for step in steps { html += "<th>\(HTML.escape("\(step["index"] ?? "")"))</th>" }
        html += "</tr>"
        for name in names {
            html += "<tr><th class=\"mono\">\(HTML.escape(name))</th>"
            for list in perStep {
                if let check = list.first(where: { $0["name"] as? String == name }) {
                    let holds = check["holds"] as? Bool == true
                    html += "<td class=\"\(holds ? "ok" : "bad")\" title=\"\(HTML.escape(name)): \(holds ? "held" : "FAILED")\">\(holds ? "" : "✗")</td>"
                } else {
                    html += "<td title=\"not read (the bank was down)\"></td>"
                }
            }
            html += "</tr>"
        }
        return html + "</table>"
    }
}
