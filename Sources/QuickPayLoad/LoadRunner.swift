import Foundation
import QuickPayAudit
import QuickPayClient
import QuickPayConfig
import QuickPayTestbed

/// The entry points the command uses.
public enum LoadRunner {
    public static func run(spec: LoadSpec, setup: LoadSetup, progress: Bool) throws -> LoadResults {
        try LoadEngine(spec: spec, setup: setup, progress: progress).run()
    }

    /// Asks every merchant to redeem and waits until the bank has credited everything they hold:
    /// the coins and vouchers credited, and how long it took.
    public static func redeemAll(_ setup: LoadSetup, timeoutSeconds: Double = 60) throws -> (coins: Int, vouchers: Int, seconds: Double) {
        let deployment = setup.deployment
        // Read from the bank's file by plain SQL (read-only, beside its writer), not through its
        // control socket: the state dump reads every table on the serving thread, and after a
        // long online run (a journal entry per payment) it took longer than the control timeout.
        func credited() throws -> (coins: Int, vouchers: Int) {
            let data = try SQLiteEvidence.read(SQLiteEvidence.Files(bank: "\(deployment.runFolder)/data/bank/bank.sqlite"))
            var coins = 0, vouchers = 0
            for row in data.vouchers {
                coins += row.redeemedIndex
                if row.redeemedIndex > 0 { vouchers += 1 }
            }
            return (coins, vouchers)
        }
        // First let the merchants finish what is still queued at them (an overloaded run leaves a
        // backlog), so that the timing below is the redemption alone.
        func accepted() throws -> Int {
            try setup.spec.merchants.reduce(0) { total, merchant in
                let state = try deployment.control("merchant-\(merchant.id)").must(["action": "state"])
                return total + (state["vouchers"] as? [[String: Any]] ?? []).reduce(0) { $0 + ($1["last_index"] as? Int ?? 0) }
            }
        }
        var last = -1
        var stable = 0
        let idleDeadline = Date().addingTimeInterval(timeoutSeconds)
        while stable < 3 && Date() < idleDeadline {
            let now = try accepted()
            stable = now == last ? stable + 1 : 0
            last = now
            usleep(100_000)
        }
        let before = try credited()
        let started = nowNanoseconds()
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var pendingMerchants = Set(setup.spec.merchants.map(\.id))
        while !pendingMerchants.isEmpty && Date() < deadline {
            for merchant in pendingMerchants {
                let control = try deployment.control("merchant-\(merchant)")
                // A merchant sends one Redeem (of up to 256 vouchers) at a time and ignores the
                // ask while one is out: asking again sends the next batch as soon as it can.
                _ = try control.must(["action": "redeem"])
                let state = try control.must(["action": "state"])
                if state["unredeemed_paise"] as? Int == 0 { pendingMerchants.remove(merchant) }
            }
            if !pendingMerchants.isEmpty { usleep(1000) }
        }
        let seconds = Double(nowNanoseconds() - started) / 1e9
        let after = try credited()
        return (after.coins - before.coins, after.vouchers - before.vouchers, seconds)
    }
}

extension LoadResults {
    public static func empty(_ spec: LoadSpec) -> LoadResults { LoadResults(spec: spec) }
}
