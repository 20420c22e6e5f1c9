import Foundation
import QuickPayActors
import QuickPayCore
import QuickPayConfig
import QuickPayTestbed

/// Runs scenarios against the five actors as real processes on loopback: starts them, drives
/// each step through their control sockets, checks the invariants from their state after every
/// step that can move money, and judges the end state.
public final class ScenarioRunner {
    public let binFolder: String
    public let runsFolder: String
    public let passwordRounds: Int
    public var print: (String) -> Void = { Swift.print($0); fflush(nil) }
    /// A deployment file: run against actors already running there instead of starting them.
    public var remoteDeployment: String?
    /// Seeds the runner's own random choices.
    public var seed: UInt64 = 1
    /// Plaintext ZeroMQ between the actors it starts (CURVE with fresh keys per run otherwise).
    public var insecure = false
    /// Which vouchers customers load unless a scenario says: blind RSA (unlinkable) by default.
    public var scheme: SignatureScheme = .blindRSA

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
        if let remoteDeployment {
            do {
                guard scenario.proxies.isEmpty else { throw ScenarioError("fault proxies need actors this runner starts (not --deployment)") }
                let deployment = try ActorDeployment(remoteFile: remoteDeployment)
                try deployment.waitUntilHealthy()
                var session = StepSession(scenario: scenario, deployment: deployment, seed: seed)
                result.steps = scenario.steps.map { step in
                    let outcome = session.run(step)
                    print("  \(outcome.passed ? "ok  " : "FAIL") [\(String(format: "%2d", step.index))] \(step.summary) -> \(outcome.actual) (\(outcome.milliseconds) ms)")
                    for detail in outcome.details { print("         \(detail)") }
                    for failure in outcome.failures { print("         \(failure)") }
                    return outcome
                }
                result.finalFailures = session.finalChecks()
                for failure in result.finalFailures { print("  FAIL final: \(failure)") }
            } catch {
                result.setupFailure = "\(error)"
                print("  FAIL could not run: \(error)")
            }
            result.seconds = Date().timeIntervalSince(started)
            print("   \(result.passed ? "passed" : "FAILED") in \(String(format: "%.1f", result.seconds)) s (remote actors from \(remoteDeployment))")
            return result
        }
        do {
            var links: [String: String] = [:]
            for link in scenario.proxies { links[link] = try scenario.processLink(link) }
            let deployment = try ActorDeployment(
                runFolder: folder, binFolder: binFolder,
                customers: scenario.users.map { .init(name: $0.name, phone: $0.phone, account: $0.account, deposit: $0.depositRupees) },
                merchants: scenario.merchants.map { .init(id: $0.id, account: $0.account, mode: $0.flag, bankMode: $0.mode) }, passwordRounds: passwordRounds,
                proxiedLinks: Set(links.values), insecure: insecure, launch: false, scheme: scenario.scheme ?? scheme)
            deployment.traceMessages = true
            var proxies: [String: FaultProxy] = [:]
            defer {
                deployment.stopAll()
                for proxy in proxies.values { proxy.stop() }
            }
            for (link, processLink) in links {
                let to = String(processLink.split(separator: ">").last!)
                proxies[link] = try FaultProxy(
                    name: link, frontend: deployment.endpoints["proxy:\(processLink)"]!, backend: deployment.endpoints[to]!,
                    curve: try deployment.proxyKeys(processLink), trace: MessageTrace.file("\(folder)/logs/proxy-\(link).log", actor: "proxy-\(link)"))
            }
            try deployment.launchAll()
            try deployment.waitUntilHealthy()
            var session = StepSession(scenario: scenario, deployment: deployment, seed: seed)
            session.proxies = proxies
            for step in scenario.steps {
                let outcome = session.run(step)
                result.steps.append(outcome)
                let verdict = outcome.passed ? "ok  " : "FAIL"
                print("  \(verdict) [\(String(format: "%2d", step.index))] \(step.summary) -> \(outcome.actual) (\(outcome.milliseconds) ms)")
                for detail in outcome.details { print("         \(detail)") }
                for failure in outcome.failures { print("         \(failure)") }
            }
            result.finalFailures = session.finalChecks()
            for (link, proxy) in proxies.sorted(by: { $0.key < $1.key }) {
                let applied = proxy.report.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ")
                print("  proxy \(link): \(applied.isEmpty ? "no fault applied" : applied)")
                result.finalFailures += proxy.unusedRules.map { "proxy \(link): the fault \($0) never met its message" }
            }
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
