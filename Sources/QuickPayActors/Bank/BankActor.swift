import QuickPayCore
import QuickPayProtocol

/// The bank's policy knobs. Defaults are the demo's; scenarios shorten them.
public struct BankConfig: Sendable {
    /// How long a new voucher can be spent.
    public var voucherValiditySeconds: Int64 = 30 * 24 * 3600
    /// After expiry, how long a merchant may still redeem; also when a pending unload refunds.
    public var depositWindowSeconds: Int64 = 24 * 3600
    /// How long the bank waits for a merchant to answer a Settle.
    public var settleDeadlineMilliseconds: Int = 2000
    /// How long answers are kept for retries (by wall-clock time). A day: clients retry within
    /// seconds; after that only the voucher and ledger rows remain of a request.
    public var replyRetentionSeconds: Int64 = 24 * 3600
    /// Who may call: the app server for account and voucher work, each merchant for its own
    /// coins. nil (a plaintext `--insecure` deployment): callers are not authenticated.
    public var callers: CallerPolicy?
    public init() {}
}

/// The bank: accounts and a double-entry ledger; signs vouchers on load; verifies and marks
/// coins for online merchants; credits redemptions; closes vouchers and refunds unloads.
///
/// Pure: the store is behind `BankStore`, time comes in as `now`, randomness is injected.
/// Every money-moving request commits one `BankBatch` (postings, voucher rows, the cached reply)
/// before its reply is returned, and is idempotent by request id.
public struct BankActor: ServerActor {
    let store: any BankStore
    let signer: BankSigner
    let config: BankConfig
    var random: any RandomNumberGenerator
    /// Unloads waiting for a merchant's SettleReply, by the Settle's request id.
    var pendingSettles: [RequestID: PendingUnload] = [:]
    /// Vouchers with a Settle in flight: one at a time, and no deadline refund meanwhile.
    var settling: Set<VoucherID> = []

    struct PendingUnload {
        let client: ClientID
        let envelope: Envelope
        let request: UnloadRequest
    }

    public init(store: any BankStore, signer: BankSigner, config: BankConfig = BankConfig(), random: any RandomNumberGenerator) {
        self.store = store
        self.signer = signer
        self.config = config
        self.random = random
    }

    public var publicKey: SigningPublicKey { signer.privateKey.publicKey }
    public var groupCommitter: (any GroupCommitting)? { store as? any GroupCommitting }

    public mutating func handle(_ envelope: Envelope, from client: ClientID, now: Timestamp) -> [Output] {
        // An unauthorized caller is refused before anything else, and its refusal is not
        // cached: it must not claim a request id the rightful caller may use.
        if let callers = config.callers {
            do {
                try Self.authorize(envelope.body, client, callers)
            } catch {
                return [.reply(to: client, envelope.fail(error))]
            }
        }
        switch envelope.body {
        case .bankLoad(let request):
            return idempotent(envelope, client) { bank throws in try bank.load(request, now: now) }
        case .verifyCoins(let request):
            return idempotent(envelope, client) { bank throws in try bank.verifyCoins(request, now: now) }
        case .redeem(let request):
            return idempotent(envelope, client) { bank throws in try bank.redeem(request, now: now) }
        case .bankWithdraw(let request):
            return idempotent(envelope, client) { bank throws in try bank.withdraw(request) }
        case .bankCredit(let request):
            return idempotent(envelope, client) { bank throws in try bank.credit(request) }
        case .bankBalance(let account):
            return answering(envelope, to: client) { [store] in
                guard try store.accountExists(account) else { throw QuickPayError(.unknownAccount, "no account \(account)") }
                let balances = Balances(bank: try store.balance(.bank(account)), quickPay: try store.balance(.quickPay(account)))
                return [.reply(to: client, envelope.reply(.balanceReply(balances)))]
            }
        case .bankUnload(let request):
            return unload(request, envelope: envelope, client: client, now: now)
        default:
            return [.reply(to: client, envelope.fail(QuickPayError(.malformed, "the bank does not take \(envelope.body.typeName)")))]
        }
    }

    static func authorize(_ body: Body, _ client: ClientID, _ callers: CallerPolicy) throws(QuickPayError) {
        switch body {
        case .verifyCoins(let request): try callers.requireMerchant(client, as: request.receiverID, for: body.typeName)
        case .redeem(let request): try callers.requireMerchant(client, as: request.receiverID, for: body.typeName)
        case .bankLoad, .bankWithdraw, .bankCredit, .bankBalance, .bankUnload: try callers.requireAppServer(client, for: body.typeName)
        default: return
        }
    }

    // MARK: Idempotency

    /// Answers a retry from the cache (or CONFLICT for a reused id with other content);
    /// otherwise runs `work`, commits its batch with the reply, and answers. A rejection moves
    /// no money and changes no row; only its answer is kept, so that a duplicate of the request
    /// arriving later gets the same refusal instead of succeeding (a retry gets the first
    /// answer). Storage failures and unavailability are not kept: those may be retried.
    mutating func idempotent(
        _ envelope: Envelope, _ client: ClientID, key: RequestID? = nil,
        _ work: (inout BankActor) throws -> (BankBatch, Body)
    ) -> [Output] {
        let key = key ?? envelope.requestID
        let digest = requestDigest(envelope)
        return answering(envelope, to: client) {
            if let cached = try store.cachedReply(key) {
                guard cached.requestDigest == digest else {
                    throw QuickPayError(.conflict, "request id \(key) was used for another request")
                }
                return [.reply(to: client, envelope.reply(cached.reply))]
            }
            var batch: BankBatch
            let reply: Body
            do {
                (batch, reply) = try work(&self)
            } catch let error as QuickPayError where error.code != .internal && error.code != .unavailable {
                var refusal = BankBatch()
                refusal.reply = (key, CachedReply(requestDigest: digest, reply: .error(error)))
                try? store.commit(refusal)
                throw error
            }
            batch.reply = (key, CachedReply(requestDigest: digest, reply: reply))
            try store.commit(batch)
            return [.reply(to: client, envelope.reply(reply))]
        }
    }

    // MARK: M2 load

    mutating func load(_ request: LoadRequest, now: Timestamp) throws -> (BankBatch, Body) {
        guard let account = request.account, try store.accountExists(account) else {
            throw QuickPayError(.unknownAccount, "no account \(request.account?.value ?? "-")")
        }
        guard try store.receiver(request.receiverID) != nil else {
            throw QuickPayError(.unknownReceiver, "no receiver \(request.receiverID)")
        }
        let total = try Amount.sum(request.chains.map(\.value))
        try TransferLimits.check(total)
        let available = try store.balance(.bank(account))
        guard available >= total else {
            throw QuickPayError(.insufficientFunds, "account \(account) holds \(available), the load needs \(total)")
        }
        var batch = BankBatch()
        batch.postings = [Posting(from: .bank(account), to: .voucherFloat, amount: total)]
        var vouchers: [SignedVoucher] = []
        for chain in request.chains {
            let commitment = VoucherCommitment(
                voucherID: .random(using: &random), receiverID: request.receiverID, denomination: chain.denomination,
                length: chain.length, root: chain.root, expiry: now.adding(seconds: config.voucherValiditySeconds),
                ownerKey: chain.ownerKey, keyID: signer.keyID)
            vouchers.append(signer.sign(commitment))
            batch.vouchers.append(BankVoucher(commitment: commitment, account: account, redeemed: .root(chain.root), state: .open))
        }
        return (batch, .loadReply(LoadReply(vouchers: vouchers, debited: total)))
    }

    // MARK: M3 online verification

    /// Verifies every coin and marks them all, or none: the merchant delivers only after this.
    mutating func verifyCoins(_ request: VerifyCoins, now: Timestamp) throws -> (BankBatch, Body) {
        guard Set(request.coins.map(\.voucherID)).count == request.coins.count else {
            throw QuickPayError(.malformed, "at most one coin per voucher")
        }
        let receiver = try knownReceiver(request.receiverID)
        var batch = BankBatch()
        var credited = Amount.zero
        for coin in request.coins {
            var row = try spendableVoucher(coin.voucherID, receiver: receiver.id)
            guard now < row.commitment.expiry else { throw QuickPayError(.expired, "voucher \(coin.voucherID) expired") }
            let steps = try ChainVerifier.verify(coin.position, after: row.redeemed, length: row.commitment.length)
            let value = try row.commitment.denomination.value(ofCoins: steps)
            credited = try credited.adding(value)
            row.redeemed = coin.position
            batch.vouchers.append(row)
        }
        batch.postings = [Posting(from: .voucherFloat, to: .quickPay(receiver.account), amount: credited)]
        return (batch, .verifyCoinsReply(credited: credited))
    }

    // MARK: M4 redemption

    /// Each coin of the batch is credited or rejected on its own; the credited ones commit together.
    mutating func redeem(_ request: Redeem, now: Timestamp) throws -> (BankBatch, Body) {
        guard Set(request.coins.map(\.voucherID)).count == request.coins.count else {
            throw QuickPayError(.malformed, "one coin per voucher in a redemption")
        }
        let receiver = try knownReceiver(request.receiverID)
        var batch = BankBatch()
        var results: [RedeemResult] = []
        var total = Amount.zero
        for coin in request.coins {
            do throws(QuickPayError) {
                let credited = try redeemOne(coin, receiver: receiver, now: now, into: &batch)
                total = try total.adding(credited)
                results.append(RedeemResult(voucherID: coin.voucherID, credited: credited, error: nil))
            } catch {
                results.append(RedeemResult(voucherID: coin.voucherID, credited: .zero, error: error))
            }
        }
        if total > .zero {
            batch.postings = [Posting(from: .voucherFloat, to: .quickPay(receiver.account), amount: total)]
        }
        return (batch, .redeemReply(RedeemReply(results: results, totalCredited: total)))
    }

    func redeemOne(_ coin: Coin, receiver: ReceiverRecord, now: Timestamp, into batch: inout BankBatch) throws(QuickPayError) -> Amount {
        let found: BankVoucher?
        do { found = try store.voucher(coin.voucherID) } catch { throw QuickPayError(.internal, "storage: \(error)") }
        guard var row = found else { throw QuickPayError(.unknownVoucher, "no voucher \(coin.voucherID)") }
        guard row.commitment.receiverID == receiver.id else {
            throw QuickPayError(.wrongReceiver, "voucher \(coin.voucherID) is for \(row.commitment.receiverID)")
        }
        if case .closed = row.state { throw QuickPayError(.voucherClosed, "voucher \(coin.voucherID) is closed") }
        guard now < depositDeadline(row) else {
            throw QuickPayError(.deadlinePassed, "voucher \(coin.voucherID) could be redeemed until \(depositDeadline(row))")
        }
        let steps = try ChainVerifier.verify(coin.position, after: row.redeemed, length: row.commitment.length)
        row.redeemed = coin.position
        batch.vouchers.append(row)
        return try row.commitment.denomination.value(ofCoins: steps)
    }

    func depositDeadline(_ row: BankVoucher) -> Timestamp {
        row.commitment.expiry.adding(seconds: config.depositWindowSeconds)
    }

    // MARK: Withdrawals and prepaid credits

    mutating func withdraw(_ request: WithdrawRequest) throws -> (BankBatch, Body) {
        guard let account = request.account, try store.accountExists(account) else {
            throw QuickPayError(.unknownAccount, "no account \(request.account?.value ?? "-")")
        }
        try TransferLimits.check(request.amount)
        let quickPay = try store.balance(.quickPay(account))
        guard quickPay >= request.amount else {
            throw QuickPayError(.insufficientFunds, "Quick Pay balance is \(quickPay), asked \(request.amount)")
        }
        var batch = BankBatch()
        batch.postings = [Posting(from: .quickPay(account), to: .bank(account), amount: request.amount)]
        let after = Balances(
            bank: try store.balance(.bank(account)).adding(request.amount), quickPay: try quickPay.subtracting(request.amount))
        return (batch, .withdrawReply(after))
    }

    mutating func credit(_ request: BankCredit) throws -> (BankBatch, Body) {
        guard try store.accountExists(request.account) else { throw QuickPayError(.unknownAccount, "no account \(request.account)") }
        try TransferLimits.check(request.amount)
        guard try !store.isCodeCredited(request.codeHash) else {
            throw QuickPayError(.codeInvalid, "this prepaid code was already redeemed")
        }
        var batch = BankBatch()
        batch.postings = [Posting(from: .prepaidSales, to: .quickPay(request.account), amount: request.amount)]
        batch.creditedCodes = [request.codeHash]
        let after = Balances(
            bank: try store.balance(.bank(request.account)),
            quickPay: try store.balance(.quickPay(request.account)).adding(request.amount))
        return (batch, .balanceReply(after))
    }

    // MARK: Helpers

    func knownReceiver(_ id: ReceiverID) throws -> ReceiverRecord {
        guard let receiver = try store.receiver(id) else { throw QuickPayError(.unknownReceiver, "no receiver \(id)") }
        return receiver
    }

    func spendableVoucher(_ id: VoucherID, receiver: ReceiverID) throws -> BankVoucher {
        guard let row = try store.voucher(id) else { throw QuickPayError(.unknownVoucher, "no voucher \(id)") }
        guard row.commitment.receiverID == receiver else {
            throw QuickPayError(.wrongReceiver, "voucher \(id) is for \(row.commitment.receiverID), not \(receiver)")
        }
        switch row.state {
        case .open: return row
        case .closing, .closed: throw QuickPayError(.voucherClosed, "voucher \(id) is being unloaded or closed")
        }
    }
}
