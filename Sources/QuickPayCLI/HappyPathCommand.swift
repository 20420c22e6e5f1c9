import ArgumentParser
import Foundation
import QuickPayAudit
import QuickPayActors
import QuickPayCore
import QuickPayClient
import QuickPayConfig
import QuickPayTestbed

/// `quickpay happy-path`: the paper's flows between the five real processes on loopback.
struct HappyPathCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "happy-path",
        abstract: "Start the five actors, and run register, OTP login, load, 37 payments, redemption, unload and withdrawal.",
        discussion: """
            Checks every balance and conservation to the paisa from the bank's ledger; exits 1 if anything is off.
            Logs and SQLite files stay in the run folder.
            Example:
              quickpay happy-path --mode offline --mode online
            """
    )

    @Option(help: "Merchant mode: offline or online (repeatable).") var mode: [String] = ["offline", "online"]
    @Option(help: "Folder for run folders.") var runs = "runs"
    @Option(help: "PBKDF2 rounds for passwords (600,000 is OWASP's figure).") var passwordRounds = PasswordHasher.owaspRounds

    func run() throws {
        var failures = 0
        for name in mode {
            guard let mode = MerchantMode(rawValue: name) else { throw ValidationError("--mode is offline or online") }
            var path = HappyPath(mode: mode, runs: runs, passwordRounds: passwordRounds)
            failures += try path.run()
        }
        if failures > 0 { throw ExitCode(1) }
    }
}

struct HappyPath {
    let mode: MerchantMode
    let runs: String
    let passwordRounds: Int
    var failures = 0

    init(mode: MerchantMode, runs: String, passwordRounds: Int) {
        self.mode = mode
        self.runs = runs
        self.passwordRounds = passwordRounds
    }

    mutating func check(_ condition: Bool, _ what: String) {
        print("  \(condition ? "ok  " : "FAIL") \(what)")
        if !condition { failures += 1 }
    }

    mutating func run() throws -> Int {
        let stamp = Int(Date().timeIntervalSince1970)
        let folder = "\(runs)/happy-path-\(mode.rawValue)-\(stamp)"
        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        print("== happy path, \(mode) merchant; run folder \(folder)")
        let deployment = try ActorDeployment(
            runFolder: folder, binFolder: bin,
            customers: [
                .init(name: "alice", phone: "+919800000001", account: "ACC-ALICE", deposit: 1000),
                .init(name: "chai-owner", phone: "+919800000002", account: "ACC-CHAI", deposit: 0),
            ],
            merchants: [.init(id: "chai-stall", account: "ACC-CHAI", mode: mode)], passwordRounds: passwordRounds)
        defer { deployment.stopAll() }
        try deployment.waitUntilHealthy()
        print("  five actors up: bank, appserver, nsp, merchant chai-stall (\(mode)), customers alice and chai-owner")
        let alice = try deployment.control("customer-alice")
        let owner = try deployment.control("customer-chai-owner")
        let bank = try deployment.control("bank")
        let merchant = try deployment.control("merchant-chai-stall")

        try alice.must(["action": "register", "username": "alice", "password": "correct horse battery", "phone": "+919800000001", "account": "ACC-ALICE"])
        try owner.must(["action": "register", "username": "chai-stall", "password": "chai stall password", "phone": "+919800000002", "account": "ACC-CHAI", "role": "merchant"])
        print("  registered alice (customer) and chai-stall (merchant)")
        try alice.must(["action": "login", "username": "alice", "password": "correct horse battery"])
        print("  alice logged in with the OTP the network provider delivered to her phone")
        let load = try alice.must(["action": "load", "receiver": "chai-stall", "counts": ["50": 1, "10": 1, "5": 1, "1": 35]])
        check((load["debited_paise"] as? Int) == 10_000, "loaded Rs 100 in four vouchers (1 x Rs 50, 1 x Rs 10, 1 x Rs 5, 35 x Re 1)")

        // 37 payments from Re 1 to Rs 50: Rs 99 in all, Re 1 left to unload.
        var amounts = [Int](repeating: 1, count: 34)
        amounts.insert(5, at: 3)
        amounts.insert(10, at: 11)
        amounts.insert(50, at: 20)
        var paid = 0
        let started = Date()
        for amount in amounts {
            let answer = try alice.must(["action": "pay", "receiver": "chai-stall", "amount_paise": amount * 100, "order": "tea"])
            paid += (answer["amount_paise"] as? Int) ?? 0
        }
        let seconds = Date().timeIntervalSince(started)
        check(amounts.count == 37 && paid == 9_900, "37 payments, each receipt checked, Rs \(paid / 100) paid (\(String(format: "%.1f", seconds * 1000 / 37)) ms per payment)")

        try merchant.must(["action": "redeem"])
        var merchantState = try merchant.must(["action": "state"])
        for _ in 0..<100 where (merchantState["unredeemed_paise"] as? Int) != 0 {
            usleep(50_000)
            merchantState = try merchant.must(["action": "state"])
        }
        check((merchantState["accepted_paise"] as? Int) == 9_900 && (merchantState["unredeemed_paise"] as? Int) == 0, "the merchant accepted Rs 99 and redeemed all of it")

        let unload = try alice.must(["action": "unload", "destination": "bank"])
        check((unload["refunded_paise"] as? Int) == 100, "alice unloaded the unspent Re 1 to her bank account")
        try owner.must(["action": "login", "username": "chai-stall", "password": "chai stall password"])
        let withdrawn = try owner.must(["action": "withdraw", "amount_paise": 9_900])
        check((withdrawn["bank_paise"] as? Int) == 9_900, "chai-stall moved its Quick Pay balance (Rs 99) to its bank account")

        let state = try bank.must(["action": "state"])
        let ledger = state["ledger"] as? [String: Int] ?? [:]
        print("  final balances (from the bank's ledger):")
        for name in ledger.keys.sorted() { print("    \(name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(Amount(paise: Int64(ledger[name]!)))") }
        let deposited = 100_000  // alice's Rs 1000; the chai stall's account starts empty
        let held = ledger.filter { !$0.key.hasPrefix("external:") }.values.reduce(0, +)
        check(ledger["bank:ACC-ALICE"] == 90_100 && (ledger["qp:ACC-ALICE"] ?? 0) == 0, "alice: Rs 1000 - Rs 99 paid = Rs 901 in the bank")
        check(ledger["bank:ACC-CHAI"] == 9_900 && (ledger["qp:ACC-CHAI"] ?? 0) == 0, "chai-stall: Rs 99 in the bank")
        check((ledger["float:vouchers"] ?? 0) == 0, "voucher float empty: every voucher redeemed or refunded")
        check(held == deposited, "conservation: balances + float = Rs \(deposited / 100) deposited, to the paisa")
        // The independent auditor on the actors' files (plain SQL, not the actors' code).
        var data = try SQLiteEvidence.read(SQLiteEvidence.find(in: ["\(folder)/data"]))
        data.expectedDepositsPaise = Int64(deposited)
        data.nowSeconds = Int64(Date().timeIntervalSince1970)
        let report = Auditor.audit(data)
        check(report.holds, "the auditor's \(report.checks.count) checks hold on the actors' SQLite files\(report.holds ? "" : ": " + report.checks.filter { !$0.holds }.map(\.name).joined(separator: ", "))")
        print(failures == 0 ? "== happy path (\(mode)): all checks hold" : "== happy path (\(mode)): \(failures) check(s) FAILED")
        return failures
    }
}
