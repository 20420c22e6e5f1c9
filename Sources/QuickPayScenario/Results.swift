import Foundation

/// The outcome of one step.
public struct StepResult {
    public let index: Int
    public let summary: String
    public let expected: String
    public let actual: String
    public let failures: [String]
    public let milliseconds: Int
    /// What the step measured or counted, printed under its line (latencies, answers by code).
    public var details: [String] = []
    /// The step's action (`pay`, `attack`, `kill`, ...), and when it ran (seconds since the epoch).
    public var action = ""
    /// The process a kill, stop, cont or restart step acted on.
    public var actor: String?
    public var startedAt: Double = 0
    public var endedAt: Double = 0
    /// The ledger after the step (paise by ledger account), when the bank was up to read.
    public var ledger: [String: Int]?
    /// The auditor's checks after the step, by name: whether each held.
    public var checks: [(name: String, holds: Bool)] = []
    public var passed: Bool { failures.isEmpty }
}

/// The outcome of one scenario.
public struct ScenarioResult {
    public let name: String
    public let path: String
    public let runFolder: String
    public var steps: [StepResult] = []
    /// Set when the scenario could not run at all (a bad file, an actor that would not start).
    public var setupFailure: String?
    public var finalFailures: [String] = []
    public var seconds: Double = 0
    public var passed: Bool { setupFailure == nil && finalFailures.isEmpty && steps.allSatisfy(\.passed) }
}

/// JUnit XML (one testsuite per scenario, one testcase per step) and a JSON summary.
public enum Reports {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    public static func junit(_ results: [ScenarioResult]) -> String {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"quickpay scenarios\">\n"
        for result in results {
            let cases = result.steps.count + 1
            let failures = result.steps.filter { !$0.passed }.count + (result.finalFailures.isEmpty && result.setupFailure == nil ? 0 : 1)
            xml += "  <testsuite name=\"\(escape(result.name))\" tests=\"\(cases)\" failures=\"\(failures)\" time=\"\(String(format: "%.3f", result.seconds))\">\n"
            for step in result.steps {
                xml += "    <testcase classname=\"\(escape(result.name))\" name=\"\(String(format: "%02d", step.index)) \(escape(step.summary))\" time=\"\(Double(step.milliseconds) / 1000)\">"
                if !step.passed { xml += "<failure message=\"\(escape(step.failures.joined(separator: "; ")))\"/>" }
                xml += "</testcase>\n"
            }
            let final = (result.setupFailure.map { [$0] } ?? []) + result.finalFailures
            xml += "    <testcase classname=\"\(escape(result.name))\" name=\"final state\">"
            if !final.isEmpty { xml += "<failure message=\"\(escape(final.joined(separator: "; ")))\"/>" }
            xml += "</testcase>\n  </testsuite>\n"
        }
        return xml + "</testsuites>\n"
    }

    public static func json(_ results: [ScenarioResult], seconds: Double) -> [String: Any] {
        [
            "seconds": seconds,
            "scenarios": results.map { result -> [String: Any] in
                [
                    "name": result.name, "path": result.path, "run_folder": result.runFolder, "passed": result.passed,
                    "seconds": result.seconds, "setup_failure": result.setupFailure ?? NSNull(), "final_failures": result.finalFailures,
                    "steps": result.steps.map { step -> [String: Any] in
                        [
                            "index": step.index, "step": step.summary, "expected": step.expected, "actual": step.actual,
                            "passed": step.passed, "failures": step.failures, "milliseconds": step.milliseconds, "details": step.details,
                            "action": step.action, "actor": step.actor ?? NSNull(), "started_at": step.startedAt, "ended_at": step.endedAt, "ledger": step.ledger ?? NSNull(),
                            "checks": step.checks.map { ["name": $0.name, "holds": $0.holds] as [String: Any] },
                        ] as [String: Any]
                    },
                ]
            },
        ]
    }
}
