/// What the auditor knows of a deployment, in plain values: read from the actors' SQLite files
/// with plain SQL (`SQLiteEvidence`), or built from a simulation's durable state, or from the
/// actors' state dumps. Nothing here comes from QuickPay's own types: the auditor recomputes
/// what it checks from raw rows, so a bug in the code under test cannot vouch for itself.
public struct AuditData: Sendable {
    /// One double-entry movement of the bank's journal.
    public struct Entry: Sendable, Equatable {
        public var debit: String
        public var credit: String
        public var amountPaise: Int64
        public init(debit: String, credit: String, amountPaise: Int64) {
            self.debit = debit
            self.credit = credit
            self.amountPaise = amountPaise
        }
    }

    /// A voucher row at the bank. `state`: 0 open, 1 closing, 2 closed. A blind voucher's row
    /// has no account until an unload names one, and its value sits in its key's float.
    public struct Voucher: Sendable, Equatable {
        public var id: String
        public var account: String?
        public var receiver: String
        public var denominationRupees: Int64
        public var length: Int
        public var root: String
        public var redeemedIndex: Int
        public var state: Int
        public var refundedPaise: Int64
        /// The blind key it was signed under (hex), nil for an Ed25519 voucher.
        public var blindKey: String?
        public init(
            id: String, account: String?, receiver: String, denominationRupees: Int64, length: Int, root: String, redeemedIndex: Int, state: Int, refundedPaise: Int64,
            blindKey: String? = nil
        ) {
            self.blindKey = blindKey
            self.id = id
            self.account = account
            self.receiver = receiver
            self.denominationRupees = denominationRupees
            self.length = length
            self.root = root
            self.redeemedIndex = redeemedIndex
            self.state = state
            self.refundedPaise = refundedPaise
        }
    }

    /// A merchant's row for one voucher.
    public struct MerchantRow: Sendable, Equatable {
        public var id: String
        public var lastIndex: Int
        public var redeemedIndex: Int
        public var closed: Bool
        /// A blind voucher: the bank first sees it when it is redeemed.
        public var blind: Bool
        public init(id: String, lastIndex: Int, redeemedIndex: Int, closed: Bool, blind: Bool = false) {
            self.blind = blind
            self.id = id
            self.lastIndex = lastIndex
            self.redeemedIndex = redeemedIndex
            self.closed = closed
        }
    }

    public struct User: Sendable, Equatable {
        public var username: String
        public var account: String
        public var phone: String
        public var failedAttempts: Int
        public var lockedUntil: Int64?
        public init(username: String, account: String, phone: String, failedAttempts: Int, lockedUntil: Int64?) {
            self.username = username
            self.account = account
            self.phone = phone
            self.failedAttempts = failedAttempts
            self.lockedUntil = lockedUntil
        }
    }

    public struct Session: Sendable, Equatable {
        public var username: String
        public var expiresAt: Int64
        public init(username: String, expiresAt: Int64) {
            self.username = username
            self.expiresAt = expiresAt
        }
    }

    public struct Challenge: Sendable, Equatable {
        public var username: String
        public var tries: Int
        public var used: Bool
        /// A registration's code: its username is the one asked for, not yet a user.
        public var registration: Bool
        public init(username: String, tries: Int, used: Bool, registration: Bool = false) {
            self.username = username
            self.tries = tries
            self.used = used
            self.registration = registration
        }
    }

    public struct AppServer: Sendable, Equatable {
        public var users: [User] = []
        public var sessions: [Session] = []
        public var challenges: [Challenge] = []
        public init(users: [User] = [], sessions: [Session] = [], challenges: [Challenge] = []) {
            self.users = users
            self.sessions = sessions
            self.challenges = challenges
        }
    }

    /// Stored balances by ledger account name (`bank:ACC`, `qp:ACC`, `float:vouchers`, `external:*`).
    public var balances: [String: Int64] = [:]
    /// The journal, when the evidence has it (the bank's SQLite file does; a state dump may not).
    public var journal: [Entry]?
    public var accounts: Set<String> = []
    /// Each account's phone of record at the bank, when the evidence has it.
    public var phones: [String: String] = [:]
    /// Receiver id -> (its account, its mode at the bank).
    public var receivers: [String: (account: String, mode: String)] = [:]
    public var vouchers: [Voucher] = []
    /// The bank's blind keys (hex key id -> the value of one voucher under it: d and N).
    public var blindKeys: [String: (denominationRupees: Int64, length: Int)] = [:]
    /// Merchant (receiver id) -> its rows.
    public var merchants: [String: [MerchantRow]] = [:]
    public var appServer: AppServer?
    /// What the deployment put in (its seed): the deposits must equal it.
    public var expectedDepositsPaise: Int64?
    /// The deployment's time, for sessions that are still valid.
    public var nowSeconds: Int64?

    public init() {}
}
