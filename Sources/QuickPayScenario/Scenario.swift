import Foundation
import QuickPayActors
import QuickPayCore
import Yams

/// A scenario file (docs/SCENARIOS.md): who takes part, the steps, and what must hold at the end.
public struct Scenario {
    public struct User {
        public let name: String
        public let username: String
        public let password: String
        public let phone: String
        public let account: String
        public let depositRupees: Int64
        public let role: Role
    }

    public struct Merchant {
        public let id: String
        public let account: String
        /// What the merchant is started with (`--mode`); nil: it learns its mode from the bank.
        public let flag: MerchantMode?
        /// The mode the bank's seed records for it: the mode it runs in.
        public let mode: MerchantMode
    }

    public let name: String
    public let description: String
    public let path: String
    public let users: [User]
    public let merchants: [Merchant]
    public let steps: [Step]
    /// Links whose messages pass through a fault proxy: "from->to" by scenario name
    /// (appserver, bank, nsp, a merchant id, a customer name).
    public let proxies: [String]
    /// Ledger balances in rupees at the end, by `name.bank` / `name.quickpay` / `float`.
    public let finalLedger: [String: Double]
    /// Which vouchers the customers load (`scheme: ed25519` or `blind-rsa`); nil: the runner's.
    public let scheme: SignatureScheme?

    public static func load(_ path: String) throws -> [Scenario] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var scenarios: [Scenario] = []
        // The parser's own loop: Yams' load_all sequence ends quietly at a syntax error, which
        // would drop the rest of a file; here a broken file is an error.
        let parser = try Parser(yaml: text)
        do {
            while let node = try parser.nextRoot() {
                guard let object = node.any as? [String: Any] else { throw ScenarioError("\(path): a scenario is a mapping") }
                scenarios.append(try Scenario(object, path: path))
            }
        } catch let error as ScenarioError {
            throw error
        } catch {
            throw ScenarioError("\(path): not valid YAML after \(scenarios.count) scenario(s): \(error)")
        }
        return scenarios
    }

    init(_ object: [String: Any], path: String) throws {
        guard let name = object["name"] as? String else { throw ScenarioError("\(path): name is required") }
        self.name = name
        self.path = path
        description = object["description"] as? String ?? ""
        let actors = object["actors"] as? [String: Any] ?? [:]
        var merchants: [Merchant] = []
        for (position, entry) in (actors["merchants"] as? [[String: Any]] ?? []).enumerated() {
            guard let id = entry["id"] as? String else { throw ScenarioError("\(name): merchant \(position + 1) needs an id") }
            // `mode` is what both the bank's seed and the merchant's flag say; `bank_mode` alone
            // seeds the bank and starts the merchant without a mode (it asks the bank).
            let flag = try (entry["mode"] as? String).map { text in
                guard let mode = MerchantMode(rawValue: text) else { throw ScenarioError("\(name): mode is offline or online") }
                return mode
            }
            guard let bankMode = MerchantMode(rawValue: entry["bank_mode"] as? String ?? flag?.rawValue ?? "offline") else {
                throw ScenarioError("\(name): bank_mode is offline or online")
            }
            merchants.append(Merchant(id: id, account: entry["account"] as? String ?? Self.account(id), flag: entry["bank_mode"] == nil ? (flag ?? .offline) : flag, mode: bankMode))
        }
        var users: [User] = []
        for (position, entry) in (actors["customers"] as? [[String: Any]] ?? []).enumerated() {
            guard let userName = entry["name"] as? String else { throw ScenarioError("\(name): customer \(position + 1) needs a name") }
            users.append(User(
                name: userName, username: entry["username"] as? String ?? userName, password: entry["password"] as? String ?? "password-\(userName)",
                phone: entry["phone"] as? String ?? "+91980000\(String(format: "%04d", position + 1))",
                account: entry["account"] as? String ?? Self.account(userName), depositRupees: Self.int(entry["deposit_rupees"]) ?? 0, role: .customer))
        }
        // Each merchant gets an owner: a user of the merchant role who can log in and withdraw.
        for (position, merchant) in merchants.enumerated() where !users.contains(where: { $0.name == merchant.id }) {
            users.append(User(
                name: merchant.id, username: merchant.id, password: "password-\(merchant.id)", phone: "+91970000\(String(format: "%04d", position + 1))",
                account: merchant.account, depositRupees: 0, role: .merchant))
        }
        self.users = users
        self.merchants = merchants
        proxies = object["proxies"] as? [String] ?? []
        scheme = try (object["scheme"] as? String).map { text in
            guard let scheme = SignatureScheme(name: text) else { throw ScenarioError("\(name): scheme is blind-rsa or ed25519") }
            return scheme
        }
        var steps: [Step] = []
        for (position, entry) in (object["steps"] as? [Any] ?? []).enumerated() {
            steps.append(try Step(entry, index: position + 1, scenario: name))
        }
        self.steps = steps
        var ledger: [String: Double] = [:]
        for (key, value) in (object["final"] as? [String: Any])?["ledger"] as? [String: Any] ?? [:] {
            guard let number = Self.double(value) else { throw ScenarioError("\(name): final ledger \(key) is not a number") }
            ledger[key] = number
        }
        finalLedger = ledger
    }

    static func account(_ name: String) -> String {
        "ACC-" + String(name.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
    }

    static func int(_ value: Any?) -> Int64? {
        if let number = value as? Int { return Int64(number) }
        if let text = value as? String { return Int64(text) }
        return nil
    }

    static func double(_ value: Any?) -> Double? {
        if let number = value as? Double { return number }
        if let number = value as? Int { return Double(number) }
        return nil
    }

    /// The process name of an actor named in a scenario.
    func process(_ name: String) throws -> String {
        if ["bank", "appserver", "nsp"].contains(name) { return name }
        if merchants.contains(where: { $0.id == name }) { return "merchant-\(name)" }
        if users.contains(where: { $0.name == name }) { return "customer-\(name)" }
        throw ScenarioError("\(self.name): no actor named \(name)")
    }

    /// A proxied link by process names ("customer-alice->merchant-chai-stall").
    func processLink(_ link: String) throws -> String {
        let parts = link.components(separatedBy: "->").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { throw ScenarioError("\(name): a proxied link is from->to, got \(link)") }
        return "\(try process(parts[0]))->\(try process(parts[1]))"
    }

    func user(_ name: String) throws -> User {
        guard let user = users.first(where: { $0.name == name }) else { throw ScenarioError("\(self.name): no customer or merchant named \(name)") }
        return user
    }
}

/// One step: an action with its parameters, and what it must end in.
public struct Step {
    public enum Expectation: Equatable {
        case ok
        case error(String)
    }

    public static let actions: Set<String> = [
        "register", "login", "load", "pay", "redeem", "unload", "withdraw", "balance", "prepaid-issue", "prepaid-redeem",
        "attack", "merchant-attack", "raw", "flood", "withhold", "kill", "stop", "cont", "restart", "crash-point",
        "sms-fault", "sms-release", "clock", "wait", "ledger", "otp", "session", "nsp-state", "proxy",
        "attach", "login-flood", "flood-report", "latency", "sms-at-rest", "bank-snapshot", "unlinkable", "refresh", "set-mode",
    ]

    /// The parameters each action takes (besides a bare value, `target`). `ledger` takes account
    /// keys, checked when it runs.
    static let parameters: [String: Set<String>] = [
        "register": ["customer", "username", "account", "phone_of"],
        "login": ["customer", "username", "password", "start_only", "sms_arrives"],
        "otp": ["customer", "code", "resend"],
        "session": ["customer", "use"],
        "load": ["customer", "merchant", "coins"],
        "pay": ["customer", "merchant", "rupees", "times", "order", "recovered"],
        "redeem": ["merchant"],
        "unload": ["customer", "to", "refunded_rupees", "pending"],
        "withdraw": ["customer", "rupees"],
        "balance": ["customer", "bank_rupees", "quickpay_rupees"],
        "prepaid-issue": ["count", "rupees"],
        "prepaid-redeem": ["customer", "code"],
        "attack": ["customer", "merchant", "kind", "voucher_of", "field", "receiver", "borrow_key_id", "which", "key"],
        "merchant-attack": ["merchant", "kind", "coin_from", "as_receiver", "credited_rupees"],
        "raw": ["customer", "merchant", "hex", "oversized_bytes"],
        "flood": ["customer", "count"],
        "attach": ["customer", "as", "sim"],
        "login-flood": ["customer", "username", "count"],
        "flood-report": ["customer", "at_least"],
        "latency": ["customer", "merchant", "count"],
        "sms-at-rest": ["phone_of", "queued_at_least"],
        "withhold": ["customer", "merchant", "on"],
        "kill": ["actor"], "stop": ["actor"], "cont": ["actor"], "restart": ["actor"],
        "crash-point": ["actor", "point"],
        "sms-fault": ["fault", "to", "seconds"],
        "sms-release": [],
        "clock": ["advance_seconds", "of"],
        "wait": ["ms"],
        "nsp-state": ["faults", "misrouted"],
        "proxy": ["link", "type", "direction", "fault", "ms", "count", "until_cleared", "clear"],
        "bank-snapshot": ["name"],
        "unlinkable": ["load", "redemption"],
        "refresh": ["customer", "merchant", "to", "refreshed_rupees"],
        "set-mode": ["merchant", "mode"],
    ]

    public let index: Int
    public let action: String
    public let params: [String: Any]
    public let expect: Expectation

    init(_ entry: Any, index: Int, scenario: String) throws {
        guard let object = entry as? [String: Any] else { throw ScenarioError("\(scenario) step \(index): a step is a mapping") }
        let keys = Set(object.keys).intersection(Step.actions)
        guard keys.count == 1, let action = keys.first else {
            throw ScenarioError("\(scenario) step \(index): name exactly one action of \(Step.actions.sorted().joined(separator: ", "))")
        }
        self.index = index
        self.action = action
        var params: [String: Any] = [:]
        if let mapping = object[action] as? [String: Any] {
            params = mapping
        } else if let value = object[action] {
            params = ["target": value]
        }
        self.params = params
        // A mistyped key is an error, not a check silently skipped (`refund_rupees` for
        // `refunded_rupees` would otherwise pass).
        let extra = Set(object.keys).subtracting([action, "expect"])
        guard extra.isEmpty else { throw ScenarioError("\(scenario) step \(index): \(extra.sorted().joined(separator: ", ")) is not part of a step (its parameters go under \(action))") }
        if let allowed = Step.parameters[action] {
            let unknown = Set(params.keys).subtracting(allowed.union(["target"]))
            guard unknown.isEmpty else {
                throw ScenarioError("\(scenario) step \(index) (\(action)): unknown parameter \(unknown.sorted().joined(separator: ", ")); \(action) takes \(allowed.sorted().joined(separator: ", "))")
            }
        }
        let expected = object["expect"] as? String ?? "ok"
        if expected == "ok" {
            expect = .ok
        } else {
            guard ErrorCode(name: expected) != nil || ["UNANSWERED", "UNREDEEMED", "LINKED"].contains(expected) else {
                throw ScenarioError("\(scenario) step \(index): expect \(expected) is neither ok nor an error code")
            }
            expect = .error(expected)
        }
    }

    public var summary: String {
        let shown = params.keys.sorted().map { key -> String in
            let value = params[key]!
            if let mapping = value as? [String: Any] {
                return "\(key)=" + mapping.keys.sorted().map { "\($0):\(mapping[$0]!)" }.joined(separator: ",")
            }
            return key == "target" ? "\(value)" : "\(key)=\(value)"
        }
        return ([action] + shown).joined(separator: " ")
    }
}

public struct ScenarioError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
