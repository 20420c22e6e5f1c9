import QuickPayCore
import QuickPayProtocol

/// An in-memory `BankStore` for unit tests of the pure core and for the simulator. It models
/// durability: a group's batches reach `durable` only when it commits, and `crash()` forgets
/// what was not committed. `stage` validates first, then applies, so a refused batch changes
/// nothing.
public final class MemoryBankStore: BankStore, MemoryJournal {
    public struct State: MemoryState {
        public var accounts: Set<AccountID> = []
        public var phones: [AccountID: PhoneNumber] = [:]
        public var receivers: [ReceiverID: ReceiverRecord] = [:]
        public var balances: [LedgerAccount: Amount] = [:]
        public var vouchers: [VoucherID: BankVoucher] = [:]
        public var roots: [Bytes32: VoucherID] = [:]
        public var codes: Set<Bytes32> = []
        public var answers = MemoryAnswers()
        /// The journal: every posting, in order.
        /// The journal: the first `entryCount` postings of a log shared by every copy of the
        /// state (it only grows), so a group does not copy the whole journal.
        public var log = PostingLog()
        public var entryCount = 0
        public var entries: ArraySlice<Posting> { log.postings.prefix(entryCount) }
    }

    public var state: Durable<State>

    public init() { state = Durable(State()) }


    /// Opens an account with a deposit (and, for a merchant, its receiver id), durably.
    public func open(_ account: AccountID, deposit: Amount, receiver: (ReceiverID, MerchantMode)? = nil, phone: PhoneNumber? = nil) throws {
        if let phone, state.working.phones.contains(where: { $0.value == phone && $0.key != account }) {
            throw StoreError("phone \(phone) is another account's phone of record")
        }
        try inGroup {
            state.working.accounts.insert(account)
            if let phone { state.working.phones[account] = phone }
            if let (id, mode) = receiver { state.working.receivers[id] = ReceiverRecord(id: id, account: account, mode: mode) }
            var batch = BankBatch()
            if deposit > .zero { batch.postings = [Posting(from: .deposits, to: .bank(account), amount: deposit)] }
            try stage(batch)
        }
    }

    // MARK: Reads (of the working state: a group sees its own staged batches)

    public func accountExists(_ id: AccountID) throws -> Bool { state.working.accounts.contains(id) }
    public func owner(of id: AccountID) throws -> AccountOwnerRecord? {
        guard state.working.accounts.contains(id) else { return nil }
        return AccountOwnerRecord(phone: state.working.phones[id], receiver: state.working.receivers.values.first { $0.account == id }?.id)
    }
    public func receiver(_ id: ReceiverID) throws -> ReceiverRecord? { state.working.receivers[id] }
    public func balance(_ account: LedgerAccount) throws -> Amount { state.working.balances[account] ?? .zero }
    public func voucher(_ id: VoucherID) throws -> BankVoucher? { state.working.vouchers[id] }
    public func voucher(root: Bytes32) throws -> BankVoucher? { state.working.roots[root].flatMap { state.working.vouchers[$0] } }
    public func isCodeCredited(_ codeHash: Bytes32) throws -> Bool { state.working.codes.contains(codeHash) }

    public func closingVouchers(limit: Int) throws -> [BankVoucher] {
        let closing = state.working.vouchers.values.compactMap { row -> (Timestamp, BankVoucher)? in
            if case .closing(let refundAt, _, _) = row.state { return (refundAt, row) }
            return nil
        }
        return closing.sorted { ($0.0, $0.1.commitment.voucherID.raw.hex) < ($1.0, $1.1.commitment.voucherID.raw.hex) }.prefix(limit).map(\.1)
    }

    public func hasLiveVouchers(for receiver: ReceiverID) throws -> Bool {
        state.working.vouchers.values.contains {
            guard $0.commitment.receiverID == receiver else { return false }
            if case .closed = $0.state { return false }
            return true
        }
    }

    public func ledger() throws -> [LedgerAccount: Amount] { state.working.balances }
    public func allVouchers() throws -> [BankVoucher] { Array(state.working.vouchers.values) }
    /// Every posting so far, in order (the journal the auditor recomputes balances from).
    public func journal() throws -> [Posting] { Array(state.working.entries) }
    public func allAccounts() throws -> [AccountID] { state.working.accounts.sorted { $0.value < $1.value } }
    public func allReceivers() throws -> [ReceiverRecord] { state.working.receivers.values.sorted { $0.id < $1.id } }

    // MARK: Journal


    public func stage(_ batch: BankBatch) throws {
        var next = state.working
        try BankBatchRules.checkPostings(batch.postings)
        for posting in batch.postings {
            next.balances[posting.from] = try (next.balances[posting.from] ?? .zero).subtracting(posting.amount)
            next.balances[posting.to] = try (next.balances[posting.to] ?? .zero).adding(posting.amount)
            next.log.append(posting, at: next.entryCount)
            next.entryCount += 1
        }
        for (account, balance) in next.balances where !account.isExternal && balance < .zero {
            throw StoreError("\(account) would go negative (\(balance))")
        }
        for row in batch.vouchers {
            let before = next.vouchers[row.commitment.voucherID]
            try BankBatchRules.checkVoucher(row, before: before)
            if before == nil, row.commitment.scheme == .ed25519 {
                guard next.roots[row.commitment.root] == nil else { throw StoreError("root \(row.commitment.root) is loaded already") }
                next.roots[row.commitment.root] = row.commitment.voucherID
            }
            next.vouchers[row.commitment.voucherID] = row
        }
        for code in batch.creditedCodes {
            guard next.codes.insert(code).inserted else { throw StoreError("code \(code) was credited already") }
        }
        for (id, mode) in batch.modes {
            guard let record = next.receivers[id] else { throw StoreError("no receiver \(id)") }
            next.receivers[id] = ReceiverRecord(id: id, account: record.account, mode: mode)
        }
        state.working = next
    }

}

/// An append-only list of postings shared by the durable and the working copy of a store's
/// state: each copy knows how many of them are its own; a posting written past a copy's count
/// (by a group that was then rolled back) is overwritten by the next.
public final class PostingLog: @unchecked Sendable {
    public private(set) var postings: [Posting] = []
    public init() {}

    func append(_ posting: Posting, at position: Int) {
        if postings.count > position { postings.removeSubrange(position...) }
        postings.append(posting)
    }
}
