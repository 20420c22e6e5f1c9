import Foundation
import QuickPayActors
import QuickPayClient
import QuickPayCore
import QuickPayAudit
import QuickPayConfig
import QuickPayTestbed

/// One scenario's live state: the deployment, what earlier steps produced (prepaid codes), the
/// last evidence read, and the actors to restart when an armed crash point kills them.
struct StepSession {
    let scenario: Scenario
    let deployment: ActorDeployment
    var codes: [String] = []
    var previous: Evidence?
    var restartAfterCrash: Set<String> = []
    var failures: [String] = []
    /// What the step measured, for its report.
    var details: [String] = []
    /// How far the steps moved the actors' clocks: their time is the wall clock plus this.
    var clockAdvance: Int64 = 0
    /// Snapshots of every value in the bank's file, by name (`bank-snapshot`), for `unlinkable`.
    var bankSnapshots: [String: [Linkability.Cell]] = [:]
    var deploymentNow: Int64 { Int64(Date().timeIntervalSince1970) + clockAdvance }
    var proxies: [String: FaultProxy] = [:]
    /// Armed crash points: the actor and its pid when armed; each must have fired by the end.
    var armed: [(actor: String, point: String, pid: Int32)] = []
    /// The runner's own randomness (forged tokens), from --seed, so a run can be replayed.
    var random: SplitMix64

    init(scenario: Scenario, deployment: ActorDeployment, seed: UInt64 = 1) {
        self.scenario = scenario
        self.deployment = deployment
        random = SplitMix64(seed: seed)
    }

    var merchantAccounts: Set<String> { Set(scenario.merchants.map(\.account)) }
    /// What the scenario deposited (remote deployments hold their own seed: not compared).
    var expectedDeposits: Int? {
        deployment.isRemote ? nil : Int(scenario.users.filter { !merchantAccounts.contains($0.account) }.reduce(0) { $0 + $1.depositRupees }) * 100
    }

    mutating func run(_ step: Step) -> StepResult {
        let started = Date()
        failures = []
        details = []
        let expected: String
        switch step.expect {
        case .ok: expected = "OK"
        case .error(let code): expected = code
        }
        var before: Evidence?
        do {
            // An actor an armed crash point killed is back before anything is read from it.
            try supervise()
            before = try Evidence.read(deployment, merchants: scenario.merchants.map(\.id))
        } catch {
            failures.append("could not read the actors' state before the step: \(error)")
        }
        var actual: String
        do {
            actual = try perform(step)
        } catch {
            actual = "ERROR"
            failures.append("\(error)")
        }
        if actual != expected { failures.append("expected \(expected), got \(actual)") }
        do {
            // With the bank down (a step killed it) there is no ledger to judge until it is back.
            guard let read = try Evidence.read(deployment, merchants: scenario.merchants.map(\.id)) else {
                return finished(step, started, expected: expected, actual: actual, after: nil)
            }
            var after = read
            // A merchant that is down keeps its last known rows, so the checks pick it up again
            // (against what it held) once it is back.
            for (merchant, rows) in previous?.data.merchants ?? [:] where after.data.merchants[merchant] == nil {
                after.data.merchants[merchant] = rows
            }
            failures += after.failures(previous: previous, expectedDepositsPaise: expectedDeposits, nowSeconds: deploymentNow)
            // A refused request changes nothing anywhere (an unknown outcome may have).
            if case .error(let code) = step.expect, !["UNAVAILABLE", "UNANSWERED"].contains(code), let before {
                let changed = after.differences(from: before, nowSeconds: deploymentNow)
                if !changed.isEmpty { failures.append("the refused request changed \(changed.joined(separator: ", "))") }
            }
            previous = after
            return finished(step, started, expected: expected, actual: actual, after: after)
        } catch {
            failures.append("could not read the actors' state: \(error)")
        }
        return finished(step, started, expected: expected, actual: actual, after: nil)
    }

    /// The step's result, with what the report draws: its times, the ledger and the checks after it.
    func finished(_ step: Step, _ started: Date, expected: String, actual: String, after: Evidence?) -> StepResult {
        let ended = Date()
        var result = StepResult(
            index: step.index, summary: step.summary, expected: expected, actual: actual, failures: failures,
            milliseconds: Int(ended.timeIntervalSince(started) * 1000), details: details)
        result.action = step.action
        if ["kill", "stop", "cont", "restart"].contains(step.action) { result.actor = try? processName(try target(step)) }
        result.startedAt = started.timeIntervalSince1970
        result.endedAt = ended.timeIntervalSince1970
        if let after {
            result.ledger = after.ledger
            result.checks = after.checks(expectedDepositsPaise: expectedDeposits, nowSeconds: deploymentNow)
        }
        return result
    }

    // MARK: Talking to actors

    /// The control socket of an actor by scenario name: bank, appserver, nsp, a merchant id, or a
    /// customer's name.
    func processName(_ name: String) throws -> String {
        if ["bank", "appserver", "nsp"].contains(name) || deployment.controls[name] != nil { return name }
        if scenario.merchants.contains(where: { $0.id == name }) { return "merchant-\(name)" }
        if scenario.users.contains(where: { $0.name == name }) { return "customer-\(name)" }
        throw ScenarioError("no actor named \(name)")
    }

    /// Calls a control action; restarts actors killed by an armed crash point while waiting.
    mutating func call(_ name: String, _ request: JSONObject) throws -> JSONObject {
        try callProcess(try processName(name), request)
    }

    /// The customer process of a user (a merchant's owner included).
    mutating func callUser(_ name: String, _ request: JSONObject) throws -> JSONObject {
        guard scenario.users.contains(where: { $0.name == name }) else { throw ScenarioError("no customer named \(name)") }
        return try callProcess("customer-\(name)", request)
    }

    /// Restarts actors that an armed crash point has killed; the ones it restarted.
    @discardableResult
    mutating func supervise() throws -> Set<String> {
        var restarted: Set<String> = []
        for actor in restartAfterCrash where deployment.processes[actor]?.isRunning == false {
            try deployment.restart(actor)
            restartAfterCrash.remove(actor)
            restarted.insert(actor)
        }
        return restarted
    }

    mutating func callProcess(_ process: String, _ request: JSONObject) throws -> JSONObject {
        try supervise()
        let name = process
        let control = try deployment.control(process)
        // A state dump only reads: if the actor asked died with it and was restarted, ask again.
        let readsOnly = request["action"] as? String == "state"
        guard let answer = try control.call(request, resendsAfterRestart: readsOnly, meanwhile: { try supervise().contains(name) }) else {
            throw ScenarioError("\(name) did not answer \(request["action"] ?? "")")
        }
        if answer["crash"] as? Bool == true, let process = deployment.processes[name] {
            // A wallet's crash point fired: it answered, then kills itself. Wait for it to be gone
            // and start it again now, so the next step does not talk to a dying process.
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            try deployment.restart(name)
            restartAfterCrash.remove(name)
        }
        return answer
    }

    static func outcome(_ answer: JSONObject) -> String {
        answer["ok"] as? Bool == true ? "OK" : (answer["code"] as? String ?? "ERROR")
    }

    func string(_ step: Step, _ key: String) throws -> String {
        if let value = step.params[key] as? String { return value }
        if key == "customer" || key == "merchant", let value = step.params["target"] as? String { return value }
        throw ScenarioError("step \(step.index) (\(step.action)) needs \(key)")
    }

    func int(_ step: Step, _ key: String) throws -> Int {
        guard let value = step.params[key] as? Int else { throw ScenarioError("step \(step.index) (\(step.action)) needs a number \(key)") }
        return value
    }

    func target(_ step: Step) throws -> String {
        guard let value = step.params["target"] as? String ?? step.params["actor"] as? String else {
            throw ScenarioError("step \(step.index) (\(step.action)) names no actor")
        }
        return value
    }

    // MARK: Steps

    mutating func perform(_ step: Step) throws -> String {
        let p = step.params
        switch step.action {
        case "register":
            let user = try scenario.user(try string(step, "customer"))
            return Self.outcome(try callUser(user.name, [
                // `phone_of`: claims another user's phone (a phone that is taken, or the victim's).
                "action": "register", "username": p["username"] as? String ?? user.username, "password": user.password,
                "phone": try (p["phone_of"] as? String).map { try scenario.user($0).phone } ?? user.phone,
                "account": p["account"] as? String ?? user.account, "role": user.role == .merchant ? "merchant" : "customer",
            ]))
        case "login":
            let user = try scenario.user(try string(step, "customer"))
            let action = p["start_only"] as? Bool == true ? "login-start" : "login"
            let answer = try callUser(user.name, ["action": action, "username": p["username"] as? String ?? user.username, "password": p["password"] as? String ?? user.password])
            if action == "login-start", let arrived = p["sms_arrives"] as? Bool, (answer["sms_arrived"] as? Bool) != arrived {
                failures.append("an SMS \(arrived ? "should have" : "should not have") arrived on \(user.name)'s phone")
            }
            return Self.outcome(answer)
        case "otp":
            let user = try string(step, "customer")
            if p["resend"] as? Bool == true { return Self.outcome(try callUser(user, ["action": "otp-resend"])) }
            return Self.outcome(try callUser(user, ["action": "otp", "code": "\(p["code"] ?? "right")"]))
        case "session":
            let user = try string(step, "customer")
            var token = p["use"] as? String ?? "random"
            if token == "random" { token = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &random)) }.joined() }
            return Self.outcome(try callUser(user, ["action": "session", "set": token]))
        case "load":
            let counts = (p["coins"] as? [AnyHashable: Any] ?? [:]).reduce(into: [String: Int]()) { $0["\($1.key)"] = $1.value as? Int }
            return Self.outcome(try callUser(try string(step, "customer"), ["action": "load", "receiver": try string(step, "merchant"), "counts": counts]))
        case "pay":
            let times = p["times"] as? Int ?? 1
            var last = "OK"
            for _ in 0..<times {
                let answer = try callUser(try string(step, "customer"), [
                    "action": "pay", "receiver": try string(step, "merchant"), "amount_paise": try int(step, "rupees") * 100, "order": p["order"] as? String ?? "",
                ])
                last = Self.outcome(answer)
                // `recovered: n`: an earlier payment whose outcome was unknown was finished first.
                if let recovered = p["recovered"] as? Int, last == "OK", answer["recovered_payments"] as? Int != recovered {
                    failures.append("\(answer["recovered_payments"] ?? 0) earlier payments finished first, expected \(recovered)")
                }
                if last != "OK" { break }
            }
            return last
        case "redeem":
            let merchant = try string(step, "merchant")
            try call(merchant, ["action": "redeem"]).requireOK(merchant)
            for _ in 0..<100 {
                let state = try call(merchant, ["action": "state"])
                if (state["unredeemed_paise"] as? Int) == 0 { return "OK" }
                usleep(30_000)
            }
            return "UNREDEEMED"
        case "unload":
            let answer = try callUser(try string(step, "customer"), ["action": "unload", "destination": p["to"] as? String ?? "bank"])
            if let rupees = p["refunded_rupees"] as? Int, answer["refunded_paise"] as? Int != rupees * 100 {
                failures.append("refunded Rs \(Double(answer["refunded_paise"] as? Int ?? 0) / 100), expected Rs \(rupees)")
            }
            if let pending = p["pending"] as? Int, answer["pending"] as? Int != pending { failures.append("\(answer["pending"] ?? 0) unloads pending, expected \(pending)") }
            return Self.outcome(answer)
        case "refresh":
            var request: JSONObject = ["action": "refresh", "receiver": try string(step, "merchant")]
            if let to = p["to"] as? String { request["to"] = to }
            let answer = try callUser(try string(step, "customer"), request)
            if let rupees = p["refreshed_rupees"] as? Int, answer["ok"] as? Bool == true, answer["value_paise"] as? Int != rupees * 100 {
                failures.append("refreshed Rs \(Double(answer["value_paise"] as? Int ?? 0) / 100), expected Rs \(rupees)")
            }
            return Self.outcome(answer)
        case "withdraw":
            return Self.outcome(try callUser(try string(step, "customer"), ["action": "withdraw", "amount_paise": try int(step, "rupees") * 100]))
        case "balance":
            let answer = try callUser(try string(step, "customer"), ["action": "balance"])
            if let rupees = p["bank_rupees"] as? Int, answer["bank_paise"] as? Int != rupees * 100 { failures.append("bank balance \(answer["bank_paise"] ?? "-") paise, expected Rs \(rupees)") }
            if let rupees = p["quickpay_rupees"] as? Int, answer["quickpay_paise"] as? Int != rupees * 100 { failures.append("Quick Pay balance \(answer["quickpay_paise"] ?? "-") paise, expected Rs \(rupees)") }
            return Self.outcome(answer)
        case "prepaid-issue":
            let answer = try call("appserver", ["action": "prepaid-issue", "count": p["count"] as? Int ?? 1, "amount_paise": try int(step, "rupees") * 100])
            codes += answer["codes"] as? [String] ?? []
            return Self.outcome(answer)
        case "prepaid-redeem":
            let code: String
            if let index = p["code"] as? Int { guard codes.indices.contains(index) else { throw ScenarioError("no prepaid code \(index) issued") }; code = codes[index] } else { code = "\(p["code"] ?? "")" }
            return Self.outcome(try callUser(try string(step, "customer"), ["action": "redeem-code", "code": code]))
        case "attack":
            var request = p.reduce(into: JSONObject()) { $0["\($1.key)"] = $1.value }
            request["action"] = "attack"
            request["merchant"] = try string(step, "merchant")
            return Self.outcome(try callUser(try string(step, "customer"), request))
        case "merchant-attack":
            // The testbed plays the merchant toward the bank, with the merchant's own key and the
            // coins its state dump shows (the merchant executable has no attack code).
            let merchant = try string(step, "merchant")
            guard let spec = scenario.merchants.first(where: { $0.id == merchant }) else { throw ScenarioError("no merchant \(merchant)") }
            var request: JSONObject = ["kind": try string(step, "kind")]
            if let from = p["coin_from"] as? String {
                let coin = try callUser(from, ["action": "last-coin"])
                request["voucher"] = coin["voucher"]
                request["index"] = coin["index"]
                request["value"] = coin["value"]
                // A blind voucher the bank may not have seen goes along, as an honest merchant's would.
                request["voucher_wire"] = coin["voucher_wire"]
            }
            if let claimed = p["as_receiver"] as? String { request["as_receiver"] = claimed }
            let held = MerchantAttacks.held(inState: try call(merchant, ["action": "state"]))
            let answer = try MerchantAttacks.perform(
                request["kind"] as! String, request: request, held: held, receiver: try ReceiverID(merchant), mode: spec.mode,
                bank: try deployment.bankRequester(asMerchant: merchant))
            if let rupees = p["credited_rupees"] as? Int, answer["credited_paise"] as? Int != rupees * 100 {
                failures.append("the bank credited \(answer["credited_paise"] ?? 0) paise, expected Rs \(rupees)")
            }
            guard answer["ok"] as? Bool == true else { return Self.outcome(answer) }
            let outcomes = Set(answer["codes"] as? [String] ?? [])
            return outcomes.count == 1 ? outcomes.first! : outcomes.sorted().joined(separator: ",")
        case "raw":
            let endpoint = try deployment.endpoints[try processName(try string(step, "target"))].orThrow("no endpoint")
            // `oversized_bytes: n` sends n zero bytes: above the frame limit, libzmq disconnects
            // the sender before the actor sees anything.
            let hex: String
            if let size = p["oversized_bytes"] as? Int { hex = String(repeating: "00", count: size) } else { hex = try string(step, "hex") }
            // From a customer (a fresh key), or from a merchant's own key toward the bank: over
            // CURVE only admitted peers reach the bank at all.
            let answer: JSONObject
            if let merchant = p["merchant"] as? String {
                guard try processName(try string(step, "target")) == "bank" else { throw ScenarioError("a merchant sends raw frames to the bank only") }
                answer = try sendRaw(
                    context: deployment.context, endpoint: endpoint, hex: hex, security: try deployment.clientSecurity(to: "bank", as: "merchant-\(merchant)"),
                    trace: deployment.runnerTrace)
            } else {
                answer = try callUser(try string(step, "customer"), ["action": "raw", "endpoint": endpoint, "hex": hex])
            }
            if answer["answered"] as? Bool == false { return "UNANSWERED" }
            return answer["code"] as? String ?? Self.outcome(answer)
        case "flood":
            let endpoint = try deployment.endpoints[try processName(try string(step, "target"))].orThrow("no endpoint")
            return Self.outcome(try callUser(try string(step, "customer"), ["action": "flood", "endpoint": endpoint, "count": p["count"] as? Int ?? 1000]))
        case "attach":
            // A second device attaches as another user's phone: with a wrong SIM, no SIM, or the
            // answer the victim's device last sent (captured over the air).
            let victim = try scenario.user(try string(step, "as"))
            var request: JSONObject = ["action": "attach-as", "phone": victim.phone, "sim": p["sim"] as? String ?? "wrong"]
            if p["sim"] as? String == "replay" {
                let captured = try callUser(victim.name, ["action": "last-attach"])
                try captured.requireOK(victim.name)
                request["captured"] = captured
            }
            return Self.outcome(try callUser(try string(step, "customer"), request))
        case "login-flood":
            // Logins with wrong passwords, sent from a thread of the customer's process (its own
            // client key) while the steps after it run; `flood-report` collects the answers.
            return Self.outcome(try callUser(try string(step, "customer"), [
                "action": "login-flood", "endpoint": try deployment.endpoints["appserver"].orThrow("no app server endpoint"),
                "username": try string(step, "username"), "count": p["count"] as? Int ?? 200,
            ]))
        case "flood-report":
            let answer = try callUser(try string(step, "customer"), ["action": "flood-report"])
            let counts = answer["answers"] as? [String: Int] ?? [:]
            details.append("flood answers: " + (counts.isEmpty ? "none" : counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
            for (code, least) in (p["at_least"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard let least = least as? Int else { throw ScenarioError("at_least \(code) is not a number") }
                if counts[code, default: 0] < least { failures.append("\(counts[code, default: 0]) flood answers were \(code), expected at least \(least)") }
            }
            return Self.outcome(answer)
        case "latency":
            // An honest customer's balance requests, Re 1 loads and Re 1 payments, timed one by one
            // by its own process.
            let answer = try callUser(try string(step, "customer"), ["action": "latency", "receiver": try string(step, "merchant"), "count": p["count"] as? Int ?? 40])
            for operation in ["balance", "load", "pay"] {
                if let figures = answer[operation] as? [String: Any] {
                    func ms(_ key: String) -> String { String(format: "%.2f", figures[key] as? Double ?? 0) }
                    details.append("\(operation) x\(figures["count"] as? Int ?? 0): p50 \(ms("p50_ms")) ms, p99 \(ms("p99_ms")) ms, max \(ms("max_ms")) ms")
                }
            }
            return Self.outcome(answer)
        case "sms-at-rest":
            return try smsAtRest(step)
        case "set-mode":
            // The operator's explicit change of a merchant's mode at the bank (control set-mode).
            return Self.outcome(try call("bank", ["action": "set-mode", "receiver": try string(step, "merchant"), "mode": try string(step, "mode")]))
        case "bank-snapshot":
            guard !deployment.isRemote else { throw ScenarioError("bank-snapshot reads the bank's file: only for actors this runner started") }
            guard let name = (p["name"] ?? p["target"]) as? String else { throw ScenarioError("bank-snapshot needs a name") }
            bankSnapshots[name] = try Linkability.snapshot("\(deployment.runFolder)/data/bank/bank.sqlite")
            return "OK"
        case "unlinkable":
            return try unlinkable(step)
        case "withhold":
            // The merchant takes the coins and its service and receipt never reach the customer:
            // every payment answer on the customer's proxied link is dropped until `on: false`.
            let link = "\(try string(step, "customer"))->\(try string(step, "merchant"))"
            guard let proxy = proxies[link] else { throw ScenarioError("withhold needs a proxy on \(link); list it under proxies") }
            if p["on"] as? Bool ?? true {
                proxy.add(.init(type: "payment_reply", direction: .reply, action: .drop, count: FaultProxy.untilCleared))
            } else {
                proxy.clear(type: "payment_reply", direction: .reply)
            }
            return "OK"
        case "kill", "stop", "cont", "restart":
            let name = try processName(try target(step))
            guard !deployment.isRemote else { throw ScenarioError("\(step.action) needs actors this runner started (not --deployment)") }
            guard let process = deployment.processes[name] else { throw ScenarioError("no process \(name)") }
            switch step.action {
            case "kill":
                kill(process.processIdentifier, SIGCONT)
                deployment.kill9(name)
                deployment.stopped.remove(name)
            case "stop":
                kill(process.processIdentifier, SIGSTOP)
                deployment.stopped.insert(name)
            case "cont":
                kill(process.processIdentifier, SIGCONT)
                deployment.stopped.remove(name)
            default:
                if process.isRunning {
                    kill(process.processIdentifier, SIGCONT)  // a stopped process cannot act on SIGTERM
                    process.terminate()
                    let deadline = Date().addingTimeInterval(3)
                    while process.isRunning && Date() < deadline { usleep(20_000) }
                    if process.isRunning { deployment.kill9(name) }
                    process.waitUntilExit()
                }
                deployment.stopped.remove(name)
                try deployment.restart(name)
                try deployment.waitUntilHealthy()
            }
            return "OK"
        case "crash-point":
            let name = try processName(try string(step, "actor"))
            let point = try string(step, "point")
            let answer = try call(name, ["action": "crash", "point": point])
            restartAfterCrash.insert(name)
            if let pid = deployment.processes[name]?.processIdentifier { armed.append((name, point, pid)) }
            return Self.outcome(answer)
        case "sms-fault":
            var request: JSONObject = ["action": "sms-fault", "fault": try string(step, "fault")]
            if let to = p["to"] as? String { request["to"] = (try? scenario.user(to).phone) ?? to }
            if let seconds = p["seconds"] as? Int { request["seconds"] = seconds }
            return Self.outcome(try call("nsp", request))
        case "sms-release":
            return Self.outcome(try call("nsp", ["action": "sms-release"]))
        case "nsp-state":
            let state = try call("nsp", ["action": "state"])
            if let faults = p["faults"] as? Int, (state["faults"] as? [Any])?.count != faults { failures.append("the network provider reports \((state["faults"] as? [Any])?.count ?? 0) faulted SMS, expected \(faults)") }
            if let misrouted = p["misrouted"] as? Int {
                let count = (state["faults"] as? [[String: Any]] ?? []).filter { ($0["fault"] as? String)?.hasPrefix("misrouted") == true }.count
                if count != misrouted { failures.append("\(count) misrouted SMS in the report, expected \(misrouted)") }
            }
            return Self.outcome(state)
        case "clock":
            // `of: servers` (the default: the customers' wallets keep their own time, so a late
            // wallet still offers what the servers must refuse), `customers`, or `all`.
            let seconds = try int(step, "advance_seconds")
            let of = p["of"] as? String ?? "servers"
            guard ["servers", "customers", "all"].contains(of) else { throw ScenarioError("clock of: is servers, customers or all") }
            if of != "customers" {
                for name in ["bank", "appserver", "nsp"] + scenario.merchants.map(\.id) { try call(name, ["action": "clock", "advance_seconds": seconds]).requireOK(name) }
                clockAdvance += Int64(seconds)
            }
            if of != "servers" {
                for user in scenario.users { try callUser(user.name, ["action": "clock", "advance_seconds": seconds]).requireOK(user.name) }
            }
            // Give the actors a tick to act on the new time (refunds at deadlines).
            usleep(1_200_000)
            return "OK"
        case "wait":
            usleep(UInt32((p["ms"] as? Int ?? p["target"] as? Int ?? 100) * 1000))
            return "OK"
        case "ledger":
            failures += try ledgerFailures(p)
            return "OK"
        case "proxy":
            let link = try string(step, "link")
            guard let proxy = proxies[link] else { throw ScenarioError("no proxy on \(link); list it under proxies") }
            guard let direction = FaultProxy.Direction(rawValue: p["direction"] as? String ?? "request") else { throw ScenarioError("direction is request or reply") }
            // `clear: true` ends the rules of that type and direction (those set `until_cleared`).
            if p["clear"] as? Bool == true {
                proxy.clear(type: try string(step, "type"), direction: direction)
                return "OK"
            }
            let action: FaultProxy.Action
            switch try string(step, "fault") {
            case "drop": action = .drop
            case "delay": action = .delay(milliseconds: p["ms"] as? Int ?? 500)
            case "duplicate": action = .duplicate
            case "reorder": action = .reorder
            default: throw ScenarioError("fault is drop, delay, duplicate or reorder")
            }
            let count = p["until_cleared"] as? Bool == true ? FaultProxy.untilCleared : p["count"] as? Int ?? 1
            proxy.add(.init(type: try string(step, "type"), direction: direction, action: action, count: count))
            return "OK"
        default:
            throw ScenarioError("step \(step.index): \(step.action) is not implemented")
        }
    }

    /// Compares ledger balances (rupees) by `name.bank`, `name.quickpay` or `float` (every voucher
    /// float: Ed25519 vouchers' and each blind key's).
    func ledgerFailures(_ expected: [String: Any]) throws -> [String] {
        guard let ledger = try Evidence.read(deployment, merchants: scenario.merchants.map(\.id))?.ledger else {
            return ["the bank is down: no ledger to check"]
        }
        var failures: [String] = []
        for (key, value) in expected.sorted(by: { $0.key < $1.key }) {
            guard let rupees = (value as? Double) ?? (value as? Int).map(Double.init) else {
                failures.append("ledger \(key): \(value) is not a number")
                continue
            }
            let account: String
            if key == "float" {
                let paise = ledger.filter { $0.key.hasPrefix("float:") }.values.reduce(0, +)
                if paise != Int((rupees * 100).rounded()) { failures.append("float is Rs \(Double(paise) / 100), expected Rs \(rupees)") }
                continue
            } else {
                let parts = key.split(separator: ".").map(String.init)
                guard parts.count == 2, ["bank", "quickpay"].contains(parts[1]), let user = try? scenario.user(parts[0]) else {
                    failures.append("ledger key \(key) is not name.bank or name.quickpay of a scenario user")
                    continue
                }
                account = (parts[1] == "bank" ? "bank:" : "qp:") + user.account
            }
            let paise = ledger[account] ?? 0
            if paise != Int((rupees * 100).rounded()) { failures.append("\(key) is Rs \(Double(paise) / 100), expected Rs \(rupees)") }
        }
        return failures
    }

    mutating func finalChecks() -> [String] {
        var failures: [String] = []
        for crash in armed where deployment.processes[crash.actor]?.processIdentifier == crash.pid {
            failures.append("the crash point \(crash.point) of \(crash.actor) never fired")
        }
        for (link, proxy) in proxies where !proxy.isAlive { failures.append("the fault proxy on \(link) died: \(proxy.failureText ?? "")") }
        do {
            failures += try ledgerFailures(scenario.finalLedger.reduce(into: [String: Any]()) { $0[$1.key] = $1.value })
            guard var evidence = try Evidence.read(deployment, merchants: scenario.merchants.map(\.id)) else { return failures + ["the bank is down at the end"] }
            for (merchant, rows) in previous?.data.merchants ?? [:] where evidence.data.merchants[merchant] == nil { evidence.data.merchants[merchant] = rows }
            failures += evidence.failures(previous: previous, expectedDepositsPaise: expectedDeposits, nowSeconds: deploymentNow)
        } catch {
            failures.append("could not read the final state: \(error)")
        }
        return failures
    }
}

extension JSONObject {
    func requireOK(_ name: String) throws {
        guard self["ok"] as? Bool == true else { throw ScenarioError("\(name) refused: \(self["code"] ?? "") \(self["message"] ?? "")") }
    }
}

extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let self else { throw ScenarioError(message) }
        return self
    }
}

extension StepSession {
    /// ATTACKS 30: the attacker copies the network provider's files. The SMS waiting for the
    /// phone must be there (or the check proves nothing) and none of its text readable.
    /// What the bank wrote during a load (between two snapshots) against what it wrote during a
    /// redemption: LINKED if a value (an id, a root, a key, a signature, an account, a receiver)
    /// is in both; the details say what was compared, and the anonymity set of each blind key.
    mutating func unlinkable(_ step: Step) throws -> String {
        func pair(_ key: String) throws -> [Linkability.Cell] {
            guard let names = step.params[key] as? [String], names.count == 2 else { throw ScenarioError("unlinkable \(key): is [before, after], two bank-snapshot names") }
            guard let before = bankSnapshots[names[0]], let after = bankSnapshots[names[1]] else {
                throw ScenarioError("unlinkable \(key): no bank-snapshot named \(names.filter { bankSnapshots[$0] == nil }.joined(separator: ", "))")
            }
            return Linkability.added(before: before, after: after)
        }
        let load = try pair("load"), redemption = try pair("redemption")
        let links = Linkability.links(load, redemption)
        func tables(_ cells: [Linkability.Cell]) -> String {
            Dictionary(grouping: cells, by: \.table).map { "\($0.key) \($0.value.count)" }.sorted().joined(separator: ", ")
        }
        details.append("the load wrote \(load.count) values (\(tables(load))); the redemption \(redemption.count) (\(tables(redemption)))")
        for (key, set) in try Linkability.anonymitySets("\(deployment.runFolder)/data/bank/bank.sqlite").sorted(by: { $0.key < $1.key }) {
            details.append("anonymity set of blind key \(key.prefix(16)): \(set.vouchers) vouchers issued under it, loaded from \(set.accounts) accounts")
        }
        if links.isEmpty {
            details.append("no value in common (the blind key's float account aside)")
            return "OK"
        }
        for link in links.prefix(5) { details.append("linked: \(link)") }
        return "LINKED"
    }

    mutating func smsAtRest(_ step: Step) throws -> String {
        guard !deployment.isRemote else { throw ScenarioError("sms-at-rest reads the provider's file: local deployments only") }
        let user = try scenario.user(try string(step, "phone_of"))
        let finding = try SecretsAtRest.networkProvider("\(deployment.runFolder)/data/nsp/nsp.sqlite", phone: user.phone)
        details.append("\(finding.queued) SMS queued for \(user.phone); readable text: \(finding.readable.isEmpty ? "none" : finding.readable.joined(separator: ", "))")
        if let least = step.params["queued_at_least"] as? Int, finding.queued < least {
            failures.append("\(finding.queued) SMS queued for \(user.phone), expected at least \(least): nothing to read")
        }
        if !finding.readable.isEmpty { failures.append("SMS text readable at rest: \(finding.readable.joined(separator: ", "))") }
        return "OK"
    }
}
