/// The independent auditor: checks a deployment's evidence (`AuditData`) against the rules money
/// must keep, recomputing everything from raw rows, in the manner of GNU Taler's auditor. Each
/// check has a stable name, so tests can plant a corruption and expect that very check to fail.
public enum Auditor {
    /// One check and what it found wrong (nothing: it holds).
    public struct Check: Sendable, Equatable {
        public let name: String
        public let what: String
        public var findings: [String]
        public var holds: Bool { findings.isEmpty }
    }

    public struct Report: Sendable {
        public var checks: [Check]
        public var holds: Bool { checks.allSatisfy(\.holds) }
        public var failed: [Check] { checks.filter { !$0.holds } }

        /// One line a check, then a summary.
        public var text: String {
            var lines = checks.map { check in
                "\(check.holds ? "ok  " : "FAIL") \(check.name): \(check.what)" + check.findings.prefix(5).map { "\n       \($0)" }.joined()
                    + (check.findings.count > 5 ? "\n       ... \(check.findings.count - 5) more" : "")
            }
            lines.append("\(checks.filter(\.holds).count) of \(checks.count) checks hold" + (holds ? "" : "; failed: \(failed.map(\.name).joined(separator: ", "))"))
            return lines.joined(separator: "\n")
        }
    }

    public static let floatAccount = "float:vouchers"
    /// A blind key's float: `float:key:<key id hex>`.
    public static let blindFloatPrefix = "float:key:"
    static func isFloat(_ account: String) -> Bool { account == floatAccount || account.hasPrefix(blindFloatPrefix) }
    static func isExternal(_ account: String) -> Bool { account.hasPrefix("external:") }

    /// The checks that read only merchants' rows against the bank's vouchers (what a payment at
    /// an offline merchant can change).
    public static func auditMerchants(_ data: AuditData) -> Report {
        Report(checks: [merchantsHoldWhatTheBankCredited(data)])
    }

    public static func audit(_ data: AuditData) -> Report {
        var checks: [Check] = []
        checks.append(journalWellFormed(data))
        checks.append(balancesMatchJournal(data))
        checks.append(ledgerSumsToZero(data))
        checks.append(noNegativeBalance(data))
        checks.append(conservation(data))
        checks.append(floatMatchesVouchers(data))
        checks.append(blindFloatsMatchLoads(data))
        checks.append(voucherCreditAtMostFace(data))
        checks.append(uniqueRoots(data))
        checks.append(merchantsCreditedForCoins(data))
        checks.append(merchantsHoldWhatTheBankCredited(data))
        if data.appServer != nil { checks.append(appServerConsistent(data)) }
        return Report(checks: checks)
    }

    /// d x i, in paise, without trapping on absurd rows (a corrupt row is a finding, not a crash).
    static func value(_ rupees: Int64, coins: Int) -> Int64 {
        let (perCoin, o1) = rupees.multipliedReportingOverflow(by: 100)
        let (total, o2) = perCoin.multipliedReportingOverflow(by: Int64(coins))
        return o1 || o2 ? .max : total
    }

    static func journalWellFormed(_ data: AuditData) -> Check {
        var check = Check(name: "journal-entries-well-formed", what: "every journal entry moves a positive amount between two accounts", findings: [])
        guard let journal = data.journal else { return check }
        for (n, entry) in journal.enumerated() {
            if entry.amountPaise <= 0 { check.findings.append("entry \(n + 1): amount \(entry.amountPaise)") }
            if entry.debit == entry.credit { check.findings.append("entry \(n + 1): \(entry.debit) to itself") }
        }
        return check
    }

    static func balancesMatchJournal(_ data: AuditData) -> Check {
        var check = Check(name: "balances-match-journal", what: "every stored balance equals the balance recomputed from the journal", findings: [])
        guard let journal = data.journal else { return check }
        var recomputed: [String: Int64] = [:]
        for entry in journal {
            recomputed[entry.debit, default: 0] &-= entry.amountPaise
            recomputed[entry.credit, default: 0] &+= entry.amountPaise
        }
        for account in Set(recomputed.keys).union(data.balances.keys).sorted() {
            let stored = data.balances[account] ?? 0
            let expected = recomputed[account] ?? 0
            if stored != expected { check.findings.append("\(account): stored \(stored), journal \(expected)") }
        }
        return check
    }

    static func ledgerSumsToZero(_ data: AuditData) -> Check {
        var check = Check(name: "ledger-sums-to-zero", what: "the balances of all accounts, external ones included, sum to zero", findings: [])
        let sum = data.balances.values.reduce(Int64(0)) { $0 &+ $1 }
        if sum != 0 { check.findings.append("the balances sum to \(sum) paise") }
        return check
    }

    static func noNegativeBalance(_ data: AuditData) -> Check {
        var check = Check(name: "no-negative-balance", what: "no account but the external ones is below zero", findings: [])
        for (account, balance) in data.balances.sorted(by: { $0.key < $1.key }) where balance < 0 && !isExternal(account) {
            check.findings.append("\(account) is \(balance) paise")
        }
        return check
    }

    static func conservation(_ data: AuditData) -> Check {
        var check = Check(name: "conservation", what: "deposits = balances + float, to the paisa (and = what the deployment put in)", findings: [])
        let deposited = -data.balances.filter { isExternal($0.key) }.values.reduce(Int64(0)) { $0 &+ $1 }
        let held = data.balances.filter { !isExternal($0.key) }.values.reduce(Int64(0)) { $0 &+ $1 }
        if held != deposited { check.findings.append("\(held) paise held, \(deposited) paise deposited") }
        if let expected = data.expectedDepositsPaise {
            let deposits = -(data.balances["external:deposits"] ?? 0)
            if deposits != expected { check.findings.append("\(deposits) paise entered as deposits, the deployment deposited \(expected)") }
        }
        return check
    }

    static func floatMatchesVouchers(_ data: AuditData) -> Check {
        var check = Check(name: "float-matches-vouchers", what: "the float equals the unredeemed value of the vouchers not closed", findings: [])
        let outstanding = data.vouchers.filter { $0.state != 2 && $0.blindKey == nil }.reduce(Int64(0)) { $0 &+ value($1.denominationRupees, coins: $1.length - $1.redeemedIndex) }
        let float = data.balances[floatAccount] ?? 0
        if float != outstanding { check.findings.append("float \(float) paise, vouchers outstanding \(outstanding) paise") }
        return check
    }

    /// Per blind key: what its loads paid in (d x N each) = what was credited and refunded from
    /// it + its float; the float = the unseen vouchers' face value + the seen ones' unredeemed
    /// value; and the bank has seen no more vouchers under it than were loaded (a voucher the
    /// bank never signed would show here). Needs the journal.
    static func blindFloatsMatchLoads(_ data: AuditData) -> Check {
        var check = Check(
            name: "blind-floats-match-loads",
            what: "per blind key: vouchers seen <= loads; float = unseen loads x d x N + the seen vouchers' unredeemed value", findings: [])
        guard let journal = data.journal else { return check }
        var keys = Set(data.blindKeys.keys)
        for account in data.balances.keys where account.hasPrefix(blindFloatPrefix) { keys.insert(String(account.dropFirst(blindFloatPrefix.count))) }
        for v in data.vouchers { if let key = v.blindKey { keys.insert(key) } }
        for key in keys.sorted() {
            let float = blindFloatPrefix + key
            guard let value = data.blindKeys[key] else {
                check.findings.append("key \(key.prefix(8)): money or vouchers under a key the bank does not list")
                continue
            }
            let face = Auditor.value(value.denominationRupees, coins: value.length)
            // Issued by a load (from a bank account) or by a refresh (from a refund held for one).
            func issuing(_ debit: String) -> Bool { debit.hasPrefix("bank:") || debit.hasPrefix("refresh:") }
            let loaded = journal.filter { $0.credit == float && issuing($0.debit) }.reduce(Int64(0)) { $0 &+ $1.amountPaise }
            let otherIn = journal.filter { $0.credit == float && !issuing($0.debit) }.reduce(Int64(0)) { $0 &+ $1.amountPaise }
            if otherIn != 0 { check.findings.append("key \(key.prefix(8)): \(otherIn) paise paid in other than by loads and refreshes") }
            guard face > 0, loaded % face == 0 else {
                check.findings.append("key \(key.prefix(8)): loads paid \(loaded) paise, not a whole number of Rs \(value.denominationRupees) x \(value.length) vouchers")
                continue
            }
            let issued = Int(loaded / face)
            let seen = data.vouchers.filter { $0.blindKey == key }
            if seen.count > issued { check.findings.append("key \(key.prefix(8)): \(seen.count) vouchers seen, \(issued) loaded") }
            if let wrong = seen.first(where: { $0.denominationRupees != value.denominationRupees || $0.length != value.length }) {
                check.findings.append("key \(key.prefix(8)): voucher \(wrong.id.prefix(8)) is Rs \(wrong.denominationRupees) x \(wrong.length), the key Rs \(value.denominationRupees) x \(value.length)")
            }
            let unseen = Int64(max(issued - seen.count, 0)) &* face
            let outstanding = seen.filter { $0.state != 2 }.reduce(unseen) { $0 &+ Auditor.value($1.denominationRupees, coins: $1.length - $1.redeemedIndex) }
            let balance = data.balances[float] ?? 0
            if balance != outstanding { check.findings.append("key \(key.prefix(8)): float \(balance) paise, outstanding \(outstanding) paise (\(issued) loaded, \(seen.count) seen)") }
        }
        return check
    }

    static func voucherCreditAtMostFace(_ data: AuditData) -> Check {
        var check = Check(name: "voucher-credit-at-most-face", what: "per voucher d x redeemed + refund <= d x N, = once closed; nothing refunded before it closes", findings: [])
        for v in data.vouchers {
            let name = "voucher \(v.id.prefix(8))"
            guard (0...max(v.length, 0)).contains(v.redeemedIndex) else {
                check.findings.append("\(name): redeemed index \(v.redeemedIndex) outside 0...\(v.length)")
                continue
            }
            let face = value(v.denominationRupees, coins: v.length)
            let credited = value(v.denominationRupees, coins: v.redeemedIndex)
            if v.refundedPaise < 0 { check.findings.append("\(name): refund \(v.refundedPaise)") }
            if credited &+ v.refundedPaise > face { check.findings.append("\(name): credited \(credited) + refunded \(v.refundedPaise) > face \(face)") }
            if v.state == 2 && credited &+ v.refundedPaise != face {
                check.findings.append("\(name): closed with \(face &- credited &- v.refundedPaise) paise unaccounted")
            }
            if v.state != 2 && v.refundedPaise != 0 { check.findings.append("\(name): refunded \(v.refundedPaise) while \(v.state == 0 ? "open" : "closing")") }
            if ![0, 1, 2].contains(v.state) { check.findings.append("\(name): state \(v.state)") }
        }
        return check
    }

    static func uniqueRoots(_ data: AuditData) -> Check {
        var check = Check(name: "unique-roots", what: "no chain root is behind two Ed25519 vouchers (blind vouchers, each paid for, may share one)", findings: [])
        var seen: [String: String] = [:]
        for v in data.vouchers where v.blindKey == nil {
            if let other = seen.updateValue(v.id, forKey: v.root) { check.findings.append("root \(v.root.prefix(8)) behind \(other.prefix(8)) and \(v.id.prefix(8))") }
        }
        return check
    }

    /// Each merchant's money came from coins the bank credited, once: the journal's movements
    /// from the float into its Quick Pay account equal the value of the coins redeemed from its
    /// vouchers (without a journal: the money its accounts hold).
    static func merchantsCreditedForCoins(_ data: AuditData) -> Check {
        var check = Check(name: "merchants-credited-for-coins", what: "what each merchant was credited equals the value of the coins the bank holds as redeemed from its vouchers", findings: [])
        for (receiver, record) in data.receivers.sorted(by: { $0.key < $1.key }) {
            let coins = data.vouchers.filter { $0.receiver == receiver }.reduce(Int64(0)) { $0 &+ value($1.denominationRupees, coins: $1.redeemedIndex) }
            let credited: Int64
            if let journal = data.journal {
                credited = journal.filter { isFloat($0.debit) && $0.credit == "qp:\(record.account)" }.reduce(Int64(0)) { $0 &+ $1.amountPaise }
            } else {
                credited = (data.balances["qp:\(record.account)"] ?? 0) &+ (data.balances["bank:\(record.account)"] ?? 0)
            }
            if credited != coins { check.findings.append("\(receiver): credited \(credited) paise, its vouchers' redeemed coins are worth \(coins)") }
        }
        return check
    }

    /// An offline merchant holds every coin the bank credited it: the bank never credits past
    /// what the merchant accepted. (A merchant's own redeemed index may run ahead of the bank's:
    /// coins the bank refused for good, past the deadline say, are written off there.)
    static func merchantsHoldWhatTheBankCredited(_ data: AuditData) -> Check {
        var check = Check(name: "merchants-hold-what-the-bank-credited", what: "per voucher an offline merchant's last index >= the bank's redeemed index, and every voucher it holds is the bank's, for it", findings: [])
        let bankRows = Dictionary(data.vouchers.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for (merchant, rows) in data.merchants.sorted(by: { $0.key < $1.key }) {
            let offline = data.receivers[merchant]?.mode != "online"
            for row in rows {
                let name = "\(merchant), voucher \(row.id.prefix(8))"
                if row.redeemedIndex > row.lastIndex { check.findings.append("\(name): redeemed \(row.redeemedIndex) past its last coin \(row.lastIndex)") }
                guard let bank = bankRows[row.id] else {
                    // A blind voucher is the bank's business only once redeemed (or settled):
                    // before that the bank cannot know it, by design.
                    if !(row.blind && row.redeemedIndex == 0) { check.findings.append("\(name): the bank has no such voucher") }
                    continue
                }
                if bank.receiver != merchant { check.findings.append("\(name): the bank's voucher is for \(bank.receiver)") }
                if offline && bank.redeemedIndex > row.lastIndex {
                    check.findings.append("\(name): the bank credited index \(bank.redeemedIndex), the merchant accepted only \(row.lastIndex)")
                }
            }
        }
        return check
    }

    static func appServerConsistent(_ data: AuditData) -> Check {
        var check = Check(
            name: "app-server-consistent",
            what: "sessions and challenges belong to known users; no live session of a locked user; every user's account is at the bank, with the bank's phone of record for it; one user per account and per phone; no code tried more than 5 times",
            findings: [])
        guard let app = data.appServer else { return check }
        let users = Set(app.users.map(\.username))
        for session in app.sessions where !users.contains(session.username) { check.findings.append("a session of unknown user \(session.username)") }
        if let now = data.nowSeconds {
            let locked = Set(app.users.filter { ($0.lockedUntil ?? 0) > now }.map(\.username))
            for session in app.sessions where locked.contains(session.username) && session.expiresAt > now {
                check.findings.append("\(session.username) is locked out but has a live session")
            }
        }
        for challenge in app.challenges where !challenge.registration {
            if !users.contains(challenge.username) { check.findings.append("a challenge of unknown user \(challenge.username)") }
        }
        for challenge in app.challenges {
            if challenge.tries > 5 { check.findings.append("a challenge of \(challenge.username) tried \(challenge.tries) times") }
        }
        if !data.accounts.isEmpty {
            for user in app.users where !data.accounts.contains(user.account) { check.findings.append("\(user.username)'s account \(user.account) is not at the bank") }
        }
        // Ownership: a user holds the phone the bank has on record for the account (the code
        // that created the user went there), and no account or phone has two users. Judged
        // whenever the bank's file is there: a bank with no phones of record fails it.
        if !data.accounts.isEmpty {
            for user in app.users where data.phones[user.account] != user.phone {
                check.findings.append("\(user.username) is on account \(user.account) with phone \(user.phone); the bank's phone of record is \(data.phones[user.account] ?? "none")")
            }
        }
        for (account, holders) in Dictionary(grouping: app.users, by: \.account) where holders.count > 1 {
            check.findings.append("account \(account) has \(holders.count) users: \(holders.map(\.username).sorted().joined(separator: ", "))")
        }
        for (phone, holders) in Dictionary(grouping: app.users, by: \.phone) where holders.count > 1 {
            check.findings.append("phone \(phone) has \(holders.count) users: \(holders.map(\.username).sorted().joined(separator: ", "))")
        }
        return check
    }
}
