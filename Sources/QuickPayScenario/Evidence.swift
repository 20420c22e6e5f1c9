import Foundation
import QuickPayClient
import QuickPayConfig
import QuickPayTestbed

/// What the actors hold, read from their control sockets: the evidence a scenario is judged by.
public struct Evidence: Equatable {
    /// Ledger balances in paise, by ledger account name.
    public var ledger: [String: Int] = [:]
    var depositedPaise = 0
    var floatPaise = 0
    var bankInvariants: [String: Bool] = [:]
    /// Per voucher at the bank: redeemed index, state, refunded paise, denomination, length, receiver.
    var bankVouchers: [String: BankVoucherRow] = [:]
    /// Per merchant, per voucher: last index accepted, redeemed index, closed.
    public var merchantVouchers: [String: [String: MerchantVoucherRow]] = [:]
    /// Users at the app server with their lock state.
    var users: [String: Int] = [:]

    struct BankVoucherRow: Equatable {
        public let redeemed: Int
        let state: String
        let refunded: Int
        let denomination: Int
        let length: Int
        let receiver: String
    }

    public struct MerchantVoucherRow: Equatable {
        public let last: Int
        public let redeemed: Int
        let closed: Bool
    }

    /// Reads every running actor's state; an actor a step has killed or stopped is skipped
    /// (its rows are then simply not compared), and nil means the bank itself is down.
    public static func read(_ deployment: ActorDeployment, merchants: [String]) throws -> Evidence? {
        func up(_ name: String) -> Bool {
            if deployment.isRemote { return deployment.controls[name] != nil }
            guard let process = deployment.processes[name], process.isRunning else { return false }
            return !deployment.stopped.contains(name)
        }
        guard up("bank") else { return nil }
        var evidence = Evidence()
        let bank = try deployment.control("bank").must(["action": "state"])
        evidence.ledger = bank["ledger"] as? [String: Int] ?? [:]
        evidence.depositedPaise = bank["deposited_paise"] as? Int ?? 0
        evidence.floatPaise = bank["float_paise"] as? Int ?? 0
        evidence.bankInvariants = bank["invariants"] as? [String: Bool] ?? [:]
        for row in bank["vouchers"] as? [[String: Any]] ?? [] {
            guard let id = row["id"] as? String else { continue }
            evidence.bankVouchers[id] = BankVoucherRow(
                redeemed: row["redeemed_index"] as? Int ?? 0, state: row["state"] as? String ?? "", refunded: row["refunded_paise"] as? Int ?? 0,
                denomination: row["denomination"] as? Int ?? 0, length: row["length"] as? Int ?? 0, receiver: row["receiver"] as? String ?? "")
        }
        for merchant in merchants where up("merchant-\(merchant)") {
            let state = try deployment.control("merchant-\(merchant)").must(["action": "state"])
            var rows: [String: MerchantVoucherRow] = [:]
            for row in state["vouchers"] as? [[String: Any]] ?? [] {
                guard let id = row["id"] as? String else { continue }
                rows[id] = MerchantVoucherRow(last: row["last_index"] as? Int ?? 0, redeemed: row["redeemed_index"] as? Int ?? 0, closed: row["closed"] as? Bool ?? false)
            }
            evidence.merchantVouchers[merchant] = rows
        }
        guard up("appserver") else { return evidence }
        let app = try deployment.control("appserver").must(["action": "state"])
        for user in app["users"] as? [[String: Any]] ?? [] {
            if let name = user["username"] as? String { evidence.users[name] = user["locked_until"] as? Int ?? 0 }
        }
        return evidence
    }

    /// The invariants every committed state must satisfy; each broken one is a line.
    public func invariantFailures(
        merchantAccounts: Set<String>, previous: Evidence?, expectedDepositsPaise: Int? = nil, offlineMerchants: Set<String> = []
    ) -> [String] {
        var failures: [String] = []
        if bankInvariants.count < 3 { failures.append("the bank's state dump carries no invariants") }
        // Money enters only as the scenario's deposits (and prepaid sales): minting out of the
        // deposits account would show here, not only as a ledger that still sums to zero.
        if let expectedDepositsPaise, -(ledger["external:deposits"] ?? 0) != expectedDepositsPaise {
            failures.append("deposits: Rs \(Double(-(ledger["external:deposits"] ?? 0)) / 100) entered, the scenario deposited Rs \(Double(expectedDepositsPaise) / 100)")
        }
        for (name, holds) in bankInvariants.sorted(by: { $0.key < $1.key }) where !holds { failures.append("bank invariant \(name) broken") }
        // Conservation: everything held (balances and the float) is what was deposited.
        let held = ledger.filter { !$0.key.hasPrefix("external:") }.values.reduce(0, +)
        if held != depositedPaise { failures.append("conservation: Rs \(Double(held) / 100) held, Rs \(Double(depositedPaise) / 100) deposited") }
        for (id, row) in bankVouchers {
            // At most once: what the merchant was credited plus what was refunded is at most d x N.
            let face = row.denomination * 100 * row.length
            let credited = row.denomination * 100 * row.redeemed
            if row.redeemed > row.length { failures.append("voucher \(id.prefix(8)): redeemed index \(row.redeemed) beyond N = \(row.length)") }
            if credited + row.refunded > face { failures.append("voucher \(id.prefix(8)): credited \(credited) + refunded \(row.refunded) > face \(face)") }
            if row.state == "closed" && credited + row.refunded != face { failures.append("voucher \(id.prefix(8)): closed with \(face - credited - row.refunded) paise unaccounted") }
            // An offline merchant is credited only for coins it accepted and stored. (Online, the
            // bank marks coins first: a verification that timed out at the merchant may still
            // commit at the bank, an unknown outcome where the customer risks that one step.)
            if offlineMerchants.contains(row.receiver), let rows = merchantVouchers[row.receiver], row.redeemed > (rows[id]?.last ?? 0) {
                failures.append("voucher \(id.prefix(8)): bank credited index \(row.redeemed), merchant accepted only \(rows[id]?.last ?? 0)")
            }
            if let before = previous?.bankVouchers[id], row.redeemed < before.redeemed {
                failures.append("voucher \(id.prefix(8)): redeemed index went back from \(before.redeemed) to \(row.redeemed)")
            }
        }
        // Every rupee a merchant holds came from coins the bank credited, once.
        let creditedToMerchants = bankVouchers.values.reduce(0) { $0 + $1.denomination * 100 * $1.redeemed }
        let merchantMoney = ledger.filter { entry in merchantAccounts.contains { entry.key.hasSuffix(":\($0)") } }.values.reduce(0, +)
        if merchantMoney != creditedToMerchants {
            failures.append("merchants hold Rs \(Double(merchantMoney) / 100), the bank credited coins worth Rs \(Double(creditedToMerchants) / 100)")
        }
        for (merchant, rows) in merchantVouchers {
            for (id, row) in rows {
                if let before = previous?.merchantVouchers[merchant]?[id], row.last < before.last {
                    failures.append("merchant \(merchant): last index of \(id.prefix(8)) went back from \(before.last) to \(row.last)")
                }
            }
        }
        return failures
    }

    /// What a rejected request must not have changed: money, vouchers, merchant state.
    func sameMoneyAndVouchers(as other: Evidence) -> Bool {
        ledger.filter { $0.value != 0 } == other.ledger.filter { $0.value != 0 } && bankVouchers == other.bankVouchers
            && merchantVouchers == other.merchantVouchers
    }
}
