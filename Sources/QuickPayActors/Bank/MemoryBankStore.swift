import QuickPayCore
import QuickPayProtocol

/// An in-memory `BankStore` for unit tests of the pure core. Commit validates first, then
/// applies, so a failed commit changes nothing, as a rolled-back transaction would.
public final class MemoryBankStore: BankStore {
    var accounts: Set<AccountID> = []
    var receivers: [ReceiverID: ReceiverRecord] = [:]
    var balances: [LedgerAccount: Amount] = [:]
    var vouchers: [VoucherID: BankVoucher] = [:]
    var replies: [RequestID: CachedReply] = [:]
    var codes: Set<Bytes32> = []
    /// Fails the next commit, to test that a storage failure changes nothing.
    public var failNextCommit = false

    public init() {}

    /// Opens an account with a deposit (and, for a merchant, its receiver id).
    public func open(_ account: AccountID, deposit: Amount, receiver: (ReceiverID, MerchantMode)? = nil) throws {
        accounts.insert(account)
        if let (id, mode) = receiver { receivers[id] = ReceiverRecord(id: id, account: account, mode: mode) }
        var batch = BankBatch()
        if deposit > .zero { batch.postings = [Posting(from: .deposits, to: .bank(account), amount: deposit)] }
        try commit(batch)
    }

    public func accountExists(_ id: AccountID) throws -> Bool { accounts.contains(id) }
    public func receiver(_ id: ReceiverID) throws -> ReceiverRecord? { receivers[id] }
    public func balance(_ account: LedgerAccount) throws -> Amount { balances[account] ?? .zero }
    public func voucher(_ id: VoucherID) throws -> BankVoucher? { vouchers[id] }
    public func cachedReply(_ key: RequestID) throws -> CachedReply? { replies[key] }
    public func isCodeCredited(_ codeHash: Bytes32) throws -> Bool { codes.contains(codeHash) }

    public func closingVouchers(dueBy now: Timestamp) throws -> [BankVoucher] {
        vouchers.values.filter {
            if case .closing(let refundAt, _, _) = $0.state { return refundAt <= now }
            return false
        }
    }

    public func commit(_ batch: BankBatch) throws {
        if failNextCommit {
            failNextCommit = false
            throw StoreError("injected commit failure")
        }
        var next = balances
        for posting in batch.postings {
            next[posting.from] = try (next[posting.from] ?? .zero).subtracting(posting.amount)
            next[posting.to] = try (next[posting.to] ?? .zero).adding(posting.amount)
        }
        for (account, balance) in next where !account.isExternal && balance < .zero {
            throw StoreError("\(account) would go negative (\(balance))")
        }
        balances = next
        for row in batch.vouchers { vouchers[row.commitment.voucherID] = row }
        codes.formUnion(batch.creditedCodes)
        if let (key, cached) = batch.reply { replies[key] = cached }
    }

    public func ledger() throws -> [LedgerAccount: Amount] { balances }
    public func allVouchers() throws -> [BankVoucher] { Array(vouchers.values) }

    public func pruneReplies(olderThanSeconds seconds: Int64) throws -> Int { 0 }
}
