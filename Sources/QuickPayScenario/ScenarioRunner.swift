import Foundation
import QuickPayActors
import QuickPayCore
import QuickPayRuntime

/// Runs scenarios against the five actors as real processes on loopback: starts them, drives
/// each step through their control sockets, checks the invariants from their state after every
/// step that can move money, and judges the end state.
public final class ScenarioRunner {
    public let binFolder: String
    public let runsFolder: String
    public let passwordRounds: Int
    public var print: (String) -> Void = { Swift.print($0); fflush(nil) }

    public init(binFolder: String, runsFolder: String, passwordRounds: Int) {
        self.binFolder = binFolder
        self.runsFolder = runsFolder
        self.passwordRounds = passwordRounds
    }

    public func run(_ scenario: Scenario) -> ScenarioResult {
        let started = Date()
        let folder = "\(runsFolder)/\(scenario.name)"
        var result = ScenarioResult(name: scenario.name, path: scenario.path, runFolder: folder)
        print("== \(scenario.name)\(scenario.description.isEmpty ? "" : ": \(scenario.description)")")
        do {
            let deployment = try LocalDeployment(
                runFolder: folder, binFolder: binFolder,
                customers: scenario.users.map { .init(name: $0.name, phone: $0.phone, account: $0.account, deposit: $0.depositRupees) },
                merchants: scenario.merchants.map { .init(id: $0.id, account: $0.account, mode: $0.mode) }, passwordRounds: passwordRounds)
            defer { deployment.stopAll() }
            try deployment.waitUntilHealthy()
            var session = StepSession(scenario: scenario, deployment: deployment)
            for step in scenario.steps {
                let outcome = session.run(step)
                result.steps.append(outcome)
                let verdict = outcome.passed ? "ok  " : "FAIL"
                print("  \(verdict) [\(String(format: "%2d", step.index))] \(step.summary) -> \(outcome.actual) (\(outcome.milliseconds) ms)")
                for failure in outcome.failures { print("         \(failure)") }
            }
            result.finalFailures = session.finalChecks()
            for failure in result.finalFailures { print("  FAIL final: \(failure)") }
        } catch {
            result.setupFailure = "\(error)"
            print("  FAIL could not run: \(error)")
        }
        result.seconds = Date().timeIntervalSince(started)
        print("   \(result.passed ? "passed" : "FAILED") in \(String(format: "%.1f", result.seconds)) s; logs in \(folder)/logs")
        return result
    }
}
