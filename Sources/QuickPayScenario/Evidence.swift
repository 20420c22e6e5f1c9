import Foundation
import QuickPayAudit
import QuickPayConfig
import QuickPayTestbed

/// What the actors hold: the evidence a scenario is judged by, checked by the independent
/// auditor. For actors this runner started, it reads their SQLite files with plain SQL
/// (`SQLiteEvidence`), never through the code under test. For actors at given addresses it
/// parses their state dumps strictly: a missing or mistyped field is a failure, not a zero.
public struct Evidence {
    public var data: AuditData
    /// Where it came from: "files" or "state dumps".
    public let source: String

    public struct Malformed: Error, CustomStringConvertible {
        public let description: String
    }

    /// Ledger balances in paise, by ledger account name.
    public var ledger: [String: Int] { data.balances.mapValues { Int($0) } }

    /// Reads every actor's state; nil when the bank itself is down (a step killed or stopped
    /// it): then there is nothing to judge until it is back. A merchant that is down keeps no
    /// rows here (the caller carries its last known ones).
    public static func read(_ deployment: ActorDeployment, merchants: [String]) throws -> Evidence? {
        func up(_ name: String) -> Bool {
            if deployment.isRemote { return deployment.controls[name] != nil }
            guard let process = deployment.processes[name], process.isRunning else { return false }
            return !deployment.stopped.contains(name)
        }
        guard up("bank") else { return nil }
        if deployment.isRemote { return try fromDumps(deployment, merchants: merchants.filter { up("merchant-\($0)") }, appServer: up("appserver")) }
        let data = "\(deployment.runFolder)/data"
        var files = SQLiteEvidence.Files()
        files.bank = "\(data)/bank/bank.sqlite"
        files.merchants = merchants.filter { up("merchant-\($0)") }.map { "\(data)/merchant-\($0)/merchant.sqlite" }
            .filter { FileManager.default.fileExists(atPath: $0) }
        if up("appserver"), FileManager.default.fileExists(atPath: "\(data)/appserver/appserver.sqlite") { files.appServer = "\(data)/appserver/appserver.sqlite" }
        return Evidence(data: try SQLiteEvidence.read(files), source: "files")
    }

    // MARK: State dumps (actors at given addresses)

    static func field<T>(_ object: [String: Any], _ key: String, _ what: String) throws -> T {
        guard let value = object[key] as? T else { throw Malformed(description: "\(what) lacks \(key) (or it is not a \(T.self))") }
        return value
    }

    static func fromDumps(_ deployment: ActorDeployment, merchants: [String], appServer: Bool) throws -> Evidence {
        var merchantDumps: [String: JSONObject] = [:]
        for merchant in merchants { merchantDumps[merchant] = try deployment.control("merchant-\(merchant)").must(["action": "state"]) }
        return try parse(
            bank: try deployment.control("bank").must(["action": "state"]), merchants: merchantDumps,
            appServer: appServer ? try deployment.control("appserver").must(["action": "state"]) : nil)
    }

    /// Evidence from state dumps, strictly: any field missing or of the wrong type throws.
    public static func parse(bank: JSONObject, merchants: [String: JSONObject], appServer: JSONObject?) throws -> Evidence {
        var data = AuditData()
        let ledger: [String: Int] = try field(bank, "ledger", "the bank's state")
        data.balances = ledger.mapValues(Int64.init)
        let journal: [[Any]] = try field(bank, "journal", "the bank's state")
        data.journal = try journal.map { entry in
            guard entry.count == 3, let debit = entry[0] as? String, let credit = entry[1] as? String, let amount = entry[2] as? Int else {
                throw Malformed(description: "a journal entry of the bank's state is not [debit, credit, amount]")
            }
            return AuditData.Entry(debit: debit, credit: credit, amountPaise: Int64(amount))
        }
        data.accounts = Set(try field(bank, "accounts", "the bank's state") as [String])
        data.phones = try field(bank, "phones", "the bank's state") as [String: String]
        for row in try field(bank, "receivers", "the bank's state") as [[String: Any]] {
            data.receivers[try field(row, "id", "a receiver")] = (try field(row, "account", "a receiver"), try field(row, "mode", "a receiver"))
        }
        data.vouchers = try (field(bank, "vouchers", "the bank's state") as [[String: Any]]).map { row in
            let what = "a voucher of the bank's state"
            let state: String = try field(row, "state", what)
            guard let code = ["open": 0, "closing": 1, "closed": 2][state] else { throw Malformed(description: "\(what) has state \(state)") }
            return AuditData.Voucher(
                id: try field(row, "id", what), account: row["account"] as? String, receiver: try field(row, "receiver", what),
                denominationRupees: Int64(try field(row, "denomination", what) as Int), length: try field(row, "length", what),
                root: try field(row, "root", what), redeemedIndex: try field(row, "redeemed_index", what), state: code,
                refundedPaise: Int64(try field(row, "refunded_paise", what) as Int), blindKey: row["blind_key"] as? String)
        }
        // The bank's dump always lists its blind keys (none: an Ed25519-only bank); a voucher's
        // `account` and `blind_key` are absent by design when it has none.
        for (key, value) in try field(bank, "blind_keys", "the bank's state") as [String: [String: Any]] {
            guard let rupees = value["denomination"] as? Int, let length = value["length"] as? Int else { throw Malformed(description: "blind key \(key) of the bank's state") }
            data.blindKeys[key] = (Int64(rupees), length)
        }
        for (merchant, state) in merchants {
            data.merchants[merchant] = try (field(state, "vouchers", "\(merchant)'s state") as [[String: Any]]).map { row in
                let what = "a voucher of \(merchant)'s state"
                return AuditData.MerchantRow(
                    id: try field(row, "id", what), lastIndex: try field(row, "last_index", what), redeemedIndex: try field(row, "redeemed_index", what),
                    closed: try field(row, "closed", what), blind: try field(row, "blind", what))
            }
        }
        if let state = appServer {
            var app = AuditData.AppServer()
            app.users = try (field(state, "users", "the app server's state") as [[String: Any]]).map { row in
                let what = "a user of the app server's state"
                let locked: Int = try field(row, "locked_until", what)
                return AuditData.User(
                    username: try field(row, "username", what), account: try field(row, "account", what), phone: try field(row, "phone", what),
                    failedAttempts: try field(row, "failed_attempts", what), lockedUntil: locked == 0 ? nil : Int64(locked))
            }
            app.sessions = try (field(state, "sessions", "the app server's state") as [[String: Any]]).map { row in
                AuditData.Session(username: try field(row, "username", "a session"), expiresAt: Int64(try field(row, "expires_at", "a session") as Int))
            }
            app.challenges = try (field(state, "challenges", "the app server's state") as [[String: Any]]).map { row in
                AuditData.Challenge(
                    username: try field(row, "username", "a challenge"), tries: try field(row, "tries", "a challenge"), used: try field(row, "used", "a challenge"),
                    registration: try field(row, "registration", "a challenge"))
            }
            data.appServer = app
        }
        return Evidence(data: data, source: "state dumps")
    }

    // MARK: Judging

    /// The auditor's failed checks, and what no single state shows: indexes that went back
    /// since the previous state.
    public func failures(previous: Evidence?, expectedDepositsPaise: Int?, nowSeconds: Int64? = nil) -> [String] {
        var audited = data
        audited.expectedDepositsPaise = expectedDepositsPaise.map(Int64.init)
        audited.nowSeconds = nowSeconds
        var failures = Auditor.audit(audited).failed.flatMap { check in check.findings.map { "audit \(check.name): \($0)" } }
        let before = Dictionary((previous?.data.vouchers ?? []).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for row in data.vouchers {
            if let old = before[row.id], row.redeemedIndex < old.redeemedIndex {
                failures.append("voucher \(row.id.prefix(8)): the bank's redeemed index went back from \(old.redeemedIndex) to \(row.redeemedIndex)")
            }
        }
        for (merchant, rows) in data.merchants {
            let old = Dictionary((previous?.data.merchants[merchant] ?? []).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            for row in rows {
                if let last = old[row.id]?.lastIndex, row.lastIndex < last {
                    failures.append("merchant \(merchant): last index of \(row.id.prefix(8)) went back from \(last) to \(row.lastIndex)")
                }
            }
        }
        return failures
    }

    /// The auditor's checks on this state, by name, and whether each held (for the run report).
    public func checks(expectedDepositsPaise: Int?, nowSeconds: Int64?) -> [(name: String, holds: Bool)] {
        var audited = data
        audited.expectedDepositsPaise = expectedDepositsPaise.map(Int64.init)
        audited.nowSeconds = nowSeconds
        return Auditor.audit(audited).checks.map { ($0.name, $0.holds) }
    }

    /// What a refused request must not change: money, voucher rows, merchants' rows, and the app
    /// server's users and sessions (its failure counters may move: a wrong password counts, and
    /// the one that locks its user out ends that user's sessions). Sessions expired by `now`
    /// are left out: the app server's tick deletes them whenever it runs.
    func differences(from other: Evidence, nowSeconds: Int64? = nil) -> [String] {
        var out: [String] = []
        if data.balances.filter({ $0.value != 0 }) != other.data.balances.filter({ $0.value != 0 }) { out.append("balances") }
        if data.vouchers.sorted(by: { $0.id < $1.id }) != other.data.vouchers.sorted(by: { $0.id < $1.id }) { out.append("the bank's voucher rows") }
        let merchants = Set(data.merchants.keys).intersection(other.data.merchants.keys)
        for merchant in merchants.sorted()
        where data.merchants[merchant]!.sorted(by: { $0.id < $1.id }) != other.data.merchants[merchant]!.sorted(by: { $0.id < $1.id }) {
            out.append("\(merchant)'s rows")
        }
        if let mine = data.appServer, let theirs = other.data.appServer {
            func users(_ app: AuditData.AppServer) -> [String] { app.users.map { "\($0.username) \($0.account) \($0.phone)" }.sorted() }
            if users(mine) != users(theirs) { out.append("the app server's users") }
            // A wrong password that locks its user out ends that user's sessions (and only that).
            let before = Dictionary(theirs.users.map { ($0.username, $0.lockedUntil) }, uniquingKeysWith: { a, _ in a })
            let newlyLocked = Set(mine.users.filter { $0.lockedUntil != nil && before[$0.username] != $0.lockedUntil }.map(\.username))
            func live(_ sessions: [AuditData.Session]) -> [AuditData.Session] { sessions.filter { session in nowSeconds.map { session.expiresAt > $0 } ?? true } }
            if live(mine.sessions).map(\.username).sorted() != live(theirs.sessions).map(\.username).filter({ !newlyLocked.contains($0) }).sorted() {
                out.append("the app server's sessions")
            }
        }
        return out
    }
}
