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
    /// Money behind vouchers not yet redeemed or refunded.
    case voucherFloat
    /// Opening deposits (the demo seed).
    case deposits
    /// Money paid in for prepaid market codes.
    case prepaidSales

    public var name: String {
        switch self {
        case .bank(let id): "bank:\(id)"
        case .quickPay(let id): "qp:\(id)"
        case .voucherFloat: "float:vouchers"
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

/// How a merchant takes coins: offline (PayWord: its own state, redeems later) or online (the
/// bank verifies and marks every coin before the merchant delivers).
public enum MerchantMode: String, Sendable, CaseIterable {
    case offline, online
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
    /// No coin is credited any more; `refunded` went back to the owner.
    case closed(refunded: Amount)
}

/// The bank's row for one voucher: what it signed, who loaded it, and how far it is redeemed.
public struct BankVoucher: Hashable, Sendable {
    public let commitment: VoucherCommitment
    public let account: AccountID
    public var redeemed: ChainPosition
    public var state: BankVoucherState

    public init(commitment: VoucherCommitment, account: AccountID, redeemed: ChainPosition, state: BankVoucherState) {
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

/// Everything one bank request changes, committed in one transaction.
public struct BankBatch: Sendable {
    public var postings: [Posting] = []
    public var vouchers: [BankVoucher] = []
    public var creditedCodes: [Bytes32] = []
    /// The answer to keep for the request id (retries get it back).
    public var reply: (key: RequestID, cached: CachedReply)?
    public init() {}
}

/// The bank's storage. Reads are plain; every change goes through one atomic `commit`.
public protocol BankStore: AnyObject {
    func accountExists(_ id: AccountID) throws -> Bool
    func receiver(_ id: ReceiverID) throws -> ReceiverRecord?
    func balance(_ account: LedgerAccount) throws -> Amount
    func voucher(_ id: VoucherID) throws -> BankVoucher?
    func cachedReply(_ key: RequestID) throws -> CachedReply?
    func isCodeCredited(_ codeHash: Bytes32) throws -> Bool
    /// Vouchers in the closing state whose refund time is at or before `now`.
    func closingVouchers(dueBy now: Timestamp) throws -> [BankVoucher]
    /// Applies the whole batch or nothing. Throws (and applies nothing) if any non-external
    /// account would go negative.
    func commit(_ batch: BankBatch) throws
    /// Every ledger account's balance, for checkers and the state dump.
    func ledger() throws -> [LedgerAccount: Amount]
    /// Every voucher row, for checkers and the state dump.
    func allVouchers() throws -> [BankVoucher]
    /// Forgets cached answers older than `seconds` (retries come within seconds); returns how many.
    func pruneReplies(olderThanSeconds seconds: Int64) throws -> Int
}
