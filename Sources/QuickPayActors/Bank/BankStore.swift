import QuickPayCore
import QuickPayProtocol

/// An account of the bank's double-entry ledger. Every posting moves an amount from one to
/// another, so the balances always sum to zero; the two `external` accounts go negative by the
/// money that entered the system.
public enum LedgerAccount: Hashable, Sendable, CustomStringConvertible {
    /// A customer's or merchant's bank account.
    case bank(AccountID)
    /// The same user's Quick Pay balance.
    case quickPay(AccountID)
    /// Money behind Ed25519 vouchers not yet redeemed or refunded.
    case voucherFloat
    /// Money behind the blind vouchers of one key: debited at load, before the bank knows any
    /// voucher of it; issued x d x N = credited + refunded + this balance.
    case blindFloat(KeyID)
    /// The refund of a blind voucher unloaded for a refresh, held until the refresh takes it
    /// into new blind vouchers' floats (named by the old voucher, never by an account).
    case refreshHolding(VoucherID)
    /// Opening deposits (the demo seed).
    case deposits
    /// Money paid in for prepaid market codes.
    case prepaidSales

    public var name: String {
        switch self {
        case .bank(let id): "bank:\(id)"
        case .quickPay(let id): "qp:\(id)"
        case .voucherFloat: "float:vouchers"
        case .blindFloat(let key): "float:key:\(key)"
        case .refreshHolding(let voucher): "refresh:\(voucher)"
        case .deposits: "external:deposits"
        case .prepaidSales: "external:prepaid"
        }
    }

    /// External accounts record where money came from and may go negative; no other may.
    public var isExternal: Bool {
        switch self {
        case .deposits, .prepaidSales: true
        default: false
        }
    }

    public init?(name: String) {
        if name == "float:vouchers" { self = .voucherFloat; return }
        if name == "external:deposits" { self = .deposits; return }
        if name == "external:prepaid" { self = .prepaidSales; return }
        if name.hasPrefix("refresh:"), let raw = Bytes16(hex: String(name.dropFirst(8))) { self = .refreshHolding(VoucherID(raw)); return }
        if name.hasPrefix("float:key:"), let bytes = HexCoding.decode(String(name.dropFirst(10))), let key = KeyID(bytes) { self = .blindFloat(key); return }
        if name.hasPrefix("bank:"), let id = try? AccountID(String(name.dropFirst(5))) { self = .bank(id); return }
        if name.hasPrefix("qp:"), let id = try? AccountID(String(name.dropFirst(3))) { self = .quickPay(id); return }
        return nil
    }

    public var description: String { name }
}

/// One double-entry movement.
public struct Posting: Hashable, Sendable {
    public let from: LedgerAccount
    public let to: LedgerAccount
    public let amount: Amount
    public init(from: LedgerAccount, to: LedgerAccount, amount: Amount) {
        self.from = from
        self.to = to
        self.amount = amount
    }
}

/// An account's holder as the bank knows them (a bank knows its customers: KYC).
public struct AccountOwnerRecord: Hashable, Sendable {
    /// The phone of record: registration codes go there (nil: none on file, no registration).
    public let phone: PhoneNumber?
    /// The receiver id, if this is a merchant's account.
    public let receiver: ReceiverID?
    public init(phone: PhoneNumber?, receiver: ReceiverID?) {
        self.phone = phone
        self.receiver = receiver
    }
}

/// A receiver the bank pays: its id, the account credited, and its mode.
public struct ReceiverRecord: Hashable, Sendable {
    public let id: ReceiverID
    public let account: AccountID
    public let mode: MerchantMode
    public init(id: ReceiverID, account: AccountID, mode: MerchantMode) {
        self.id = id
        self.account = account
        self.mode = mode
    }
}

/// Where a voucher stands at the bank.
public enum BankVoucherState: Hashable, Sendable {
    case open
    /// An unload is waiting for the merchant to settle; at `refundAt` (the deposit deadline) the
    /// bank refunds what is unredeemed by then.
    case closing(refundAt: Timestamp, destination: UnloadDestination, unloadID: RequestID)
    /// No coin is credited any more; `refunded` went back to the owner, by the unload `unloadID`.
    case closed(refunded: Amount, unloadID: RequestID?)

    /// The legal moves: open -> closing -> closed, open -> closed; a closed voucher stays closed.
    public func mayBecome(_ next: BankVoucherState) -> Bool {
        switch (self, next) {
        case (.open, _): true
        case (.closing(_, _, let a), .closing(_, _, let b)): a == b
        case (.closing, .closed): true
        case (.closed(let a, let x), .closed(let b, let y)): a == b && x == y
        default: false
        }
    }
}

/// The bank's row for one voucher: what it signed, who loaded it, and how far it is redeemed.
/// A blind voucher's row is made when the bank first sees the voucher (redeemed, verified or
/// unloaded), with no account: the bank does not know who loaded it. An unload names the
/// account its refund goes to, and only then is the voucher linked to an account.
public struct BankVoucher: Hashable, Sendable {
    public let commitment: VoucherCommitment
    public var account: AccountID?
    public var redeemed: ChainPosition
    public var state: BankVoucherState

    /// The ledger account that holds this voucher's unredeemed value.
    public var float: LedgerAccount {
        commitment.scheme == .blindRSA ? .blindFloat(commitment.keyID) : .voucherFloat
    }

    public init(commitment: VoucherCommitment, account: AccountID?, redeemed: ChainPosition, state: BankVoucherState) {
        self.commitment = commitment
        self.account = account
        self.redeemed = redeemed
        self.state = state
    }

    /// Face value not yet credited to the merchant (and so still in the float unless refunded).
    public var unredeemedValue: Amount {
        try! commitment.denomination.value(ofCoins: commitment.length.value - redeemed.index)
    }
}

/// Everything one bank step changes, staged in one piece (a step's batch applies whole or not
/// at all).
public struct BankBatch: Sendable {
    public var postings: [Posting] = []
    public var vouchers: [BankVoucher] = []
    public var creditedCodes: [Bytes32] = []
    /// Receivers whose mode an operator changed.
    public var modes: [ReceiverID: MerchantMode] = [:]
    public init() {}

    public var isEmpty: Bool { postings.isEmpty && vouchers.isEmpty && creditedCodes.isEmpty && modes.isEmpty }
}

/// The bank's storage: plain reads for the actor; every change goes through the host's
/// `Journal` (a batch per step, staged in the drain's group commit).
public protocol BankStore: Journal where Batch == BankBatch {
    func accountExists(_ id: AccountID) throws -> Bool
    /// Who holds an account, as the bank knows it: its phone of record and whether it is a
    /// merchant's (nil: no such account).
    func owner(of id: AccountID) throws -> AccountOwnerRecord?
    func receiver(_ id: ReceiverID) throws -> ReceiverRecord?
    func balance(_ account: LedgerAccount) throws -> Amount
    func voucher(_ id: VoucherID) throws -> BankVoucher?
    /// The Ed25519 voucher that commits to this chain root (unique: a chain is loaded once).
    func voucher(root: Bytes32) throws -> BankVoucher?
    func isCodeCredited(_ codeHash: Bytes32) throws -> Bool
    /// Vouchers in the closing state (an unload waiting for its merchant), oldest refund first.
    func closingVouchers(limit: Int) throws -> [BankVoucher]
    /// Whether any voucher for this receiver is open or closing.
    func hasLiveVouchers(for receiver: ReceiverID) throws -> Bool
    /// Every ledger account's balance, for checkers and the state dump.
    func ledger() throws -> [LedgerAccount: Amount]
    /// Every voucher row, for checkers and the state dump.
    func allVouchers() throws -> [BankVoucher]
    /// The journal, every posting in order (the state dump; the auditor reads it itself).
    func journal() throws -> [Posting]
    func allAccounts() throws -> [AccountID]
    func allReceivers() throws -> [ReceiverRecord]
}

/// The checks every bank store makes before it applies a batch (TigerStyle: assert the
/// invariants where money is written, not only in the code that computes it).
public enum BankBatchRules {
    /// Throws unless every voucher row of the batch moves legally from `before`: indexes never go
    /// back or past N, states move forward only, and the commitment never changes.
    public static func checkVoucher(_ row: BankVoucher, before: BankVoucher?) throws {
        guard row.redeemed.index >= 0, row.redeemed.index <= row.commitment.length.value else {
            throw StoreError("voucher \(row.commitment.voucherID): redeemed index \(row.redeemed.index) outside 0...N")
        }
        if case .closed(let refunded, _) = row.state {
            let face = row.commitment.faceValue
            let credited = try! row.commitment.denomination.value(ofCoins: row.redeemed.index)
            guard (try? credited.adding(refunded)) == face else {
                throw StoreError("voucher \(row.commitment.voucherID): closed with credited \(credited) + refunded \(refunded) != face \(face)")
            }
        }
        guard let before else { return }
        guard before.commitment == row.commitment, before.account == row.account || (before.account == nil && row.commitment.scheme == .blindRSA) else {
            throw StoreError("voucher \(row.commitment.voucherID): its commitment or owner changed")
        }
        guard row.redeemed.index >= before.redeemed.index else {
            throw StoreError("voucher \(row.commitment.voucherID): redeemed index went back from \(before.redeemed.index) to \(row.redeemed.index)")
        }
        guard before.state.mayBecome(row.state) else {
            throw StoreError("voucher \(row.commitment.voucherID): \(before.state) cannot become \(row.state)")
        }
    }

    /// Throws unless the postings balance: every amount positive.
    public static func checkPostings(_ postings: [Posting]) throws {
        for posting in postings where posting.amount < .zero || posting.from == posting.to {
            throw StoreError("a posting of \(posting.amount) from \(posting.from) to \(posting.to)")
        }
    }
}
