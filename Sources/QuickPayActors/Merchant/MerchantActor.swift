import Crypto
import QuickPayCore
import QuickPayProtocol

public struct MerchantConfig: Sendable {
    public var receiverID: ReceiverID
    /// The mode the bank holds for this receiver (the executable asks the bank before it serves).
    public var mode: MerchantMode
    /// How long an online payment waits for the bank's verification.
    public var verifyDeadlineMilliseconds = 2000
    public var redeemDeadlineMilliseconds = 5000
    /// How often the merchant redeems on its own (it also redeems on command).
    public var redeemIntervalSeconds: Int64 = 30
    /// Online payments waiting for the bank at once (with it, or behind a payment on the same
    /// voucher that is); beyond it, OVERLOADED.
    public var maximumPending = 10_000
    /// Online payments waiting behind the one with the bank, per voucher; beyond it, OVERLOADED.
    /// Bounds what one voucher's holder can queue, and how long the last one waits (each ahead
    /// takes at most a verification deadline: 16 x 2 s, within the host's open-request timeout).
    public var maximumWaitingPerVoucher = 16
    /// Settle is taken only from the bank's key; payments from anyone (customers use a fresh
    /// key per connection). nil (a plaintext `--insecure` deployment): not checked.
    public var callers: CallerPolicy?

    public init(receiverID: ReceiverID, mode: MerchantMode) {
        self.receiverID = receiverID
        self.mode = mode
    }
}

/// A merchant (a receiver selling service units). Per payment it checks each new voucher once
/// (bank signature, its own receiver id, expiry) and each coin with hashes only; the new last
/// index is in the step's commit, so it is durable before the service and a receipt from its
/// receipt chain leave. Online, the bank verifies and marks the coins first. It redeems the
/// last coin per voucher in batches and settles a voucher when the bank asks (an unload).
public struct MerchantActor: ServerActor {
    public typealias Batch = MerchantBatch
    public static let role = ActorRole.merchant

    let store: any MerchantStore
    public private(set) var config: MerchantConfig
    let keyring: BankKeyring
    let receiptKey: SigningPrivateKey
    var random: any RandomNumberGenerator
    /// Receipt chains of recently active vouchers (recomputing one costs up to N hashes). Their
    /// seeds are derived, so a chain in the cache is always the stored voucher's chain.
    var receiptChains: [VoucherID: HashChain] = [:]
    static let receiptChainCacheLimit = 256
    /// Online payments waiting for the bank, by request id (the payment's own).
    var pendingPayments: [RequestID: PendingPayment] = [:]
    var vouchersInFlight: Set<VoucherID> = []
    /// Online payments on a voucher already with the bank, in arrival order: each goes to the
    /// bank once the payment before it on that voucher has its answer (PayWord coins of one
    /// voucher are checked in order), without holding payments on other vouchers.
    var waitingForBank: [Waiting] = []
    /// How many waiting payments name each voucher (a new payment on one of them waits too).
    var vouchersWaiting: [VoucherID: Int] = [:]
    /// Redemptions waiting for the bank: what each asked to redeem.
    var pendingRedemptions: [RequestID: [Coin]] = [:]
    var lastRedemption: Timestamp?

    struct Accepted {
        var row: MerchantVoucher
        let coin: Coin
        let steps: Int
        let isNew: Bool
        /// The payment carried the voucher: the wallet may have missed the receipt root.
        let attached: Bool
    }

    struct PendingPayment {
        let client: ClientID
        let envelope: Envelope
        let accepted: [Accepted]
    }

    struct Waiting {
        let client: ClientID
        let envelope: Envelope
        let payment: Payment
        var vouchers: Set<VoucherID> { Set(payment.coins.map { $0.voucherID }) }
    }

    public init(
        store: any MerchantStore, config: MerchantConfig, bankKey: SigningPublicKey, blindKeys: BlindKeyList? = nil, receiptKey: SigningPrivateKey,
        random: any RandomNumberGenerator
    ) {
        self.store = store
        self.config = config
        self.keyring = BankKeyring([bankKey], blindKeys: blindKeys)
        self.receiptKey = receiptKey
        self.random = random
    }

    public func idempotency(of body: Body) -> IdempotencyPolicy? {
        switch body {
        // Customers pay over fresh keys and retry over new connections: one global id space.
        // The chain index bounds what a payment takes; the answer (receipts) is kept for retries.
        case .payment: .retried(.global)
        default: nil
        }
    }

    /// The receipt-chain seed of a voucher: HMAC-SHA256 under the merchant's receipt key.
    public func receiptSeed(_ voucher: VoucherID) -> Bytes32 {
        let key = SymmetricKey(data: receiptKey.seed.bytes)
        let tag = HMAC<SHA256>.authenticationCode(for: Array("QuickPay/receipt-seed/v1".utf8) + voucher.raw.bytes, using: key)
        return tag.withUnsafeBytes { Bytes32($0)! }
    }

    public mutating func handle(_ envelope: Envelope, from client: ClientID, now: Timestamp) -> Step<MerchantBatch> {
        answering(envelope, to: client) {
            switch envelope.body {
            case .payment(let payment):
                return try pay(payment, envelope: envelope, client: client, now: now)
            case .settle(let settle):
                try self.config.callers?.requireBank(client, for: envelope.body.typeName)
                return try self.settle(settle, envelope: envelope, client: client)
            default:
                throw QuickPayError(.malformed, "a merchant does not take \(envelope.body.typeName)")
            }
        }
    }

    // MARK: Payment

    /// `written`: voucher rows a step being made writes (a waiting payment released by the answer
    /// of the one before it is checked against the rows that answer delivers).
    mutating func pay(_ payment: Payment, envelope: Envelope, client: ClientID, now: Timestamp, written: [VoucherID: MerchantVoucher] = [:]) throws -> Step<MerchantBatch> {
        if config.mode == .online {
            guard pendingPayments.count + waitingForBank.count < config.maximumPending else {
                throw QuickPayError(.overloaded, "\(pendingPayments.count + waitingForBank.count) payments are waiting for the bank")
            }
            let waiting = Waiting(client: client, envelope: envelope, payment: payment)
            if waiting.vouchers.contains(where: { vouchersInFlight.contains($0) || vouchersWaiting[$0] != nil }) {
                // Checked now against the rows as they are (a forged or replayed coin is refused
                // at once and holds no place), and again when its turn comes. A voucher new with
                // the payment at the bank is not stored yet: its row as that payment found it.
                var rows = written
                for pending in pendingPayments.values {
                    for item in pending.accepted where rows[item.row.id] == nil && waiting.vouchers.contains(item.row.id) { rows[item.row.id] = item.row }
                }
                _ = try check(payment, now: now, written: rows)
                // A copy of a payment already waiting (its client retried after the host forgot
                // the request) takes its place: one answer, to the newest connection.
                if let position = waitingForBank.firstIndex(where: { $0.envelope.requestID == envelope.requestID }) {
                    guard waitingForBank[position].envelope == envelope else {
                        throw QuickPayError(.conflict, "request id \(envelope.requestID) is waiting with another payment")
                    }
                    waitingForBank[position] = waiting
                    return .none
                }
                guard waiting.vouchers.allSatisfy({ vouchersWaiting[$0, default: 0] < config.maximumWaitingPerVoucher }) else {
                    throw QuickPayError(.overloaded, "\(config.maximumWaitingPerVoucher) payments on this voucher already wait for the bank")
                }
                waitingForBank.append(waiting)
                for id in waiting.vouchers { vouchersWaiting[id, default: 0] += 1 }
                return .none
            }
        }
        let accepted = try check(payment, now: now, written: written)
        let amount = try Amount.sum(accepted.map { try $0.row.voucher.commitment.denomination.value(ofCoins: $0.steps) })
        switch config.mode {
        case .offline:
            let (batch, body) = try deliver(accepted, amount: amount, order: payment.order)
            return Step(commit: batch, outputs: [.reply(to: client, envelope.reply(body))])
        case .online:
            vouchersInFlight.formUnion(accepted.map { $0.coin.voucherID })
            pendingPayments[envelope.requestID] = PendingPayment(client: client, envelope: envelope, accepted: accepted)
            let verify = VerifyCoins(
                receiverID: config.receiverID, coins: payment.coins, vouchers: accepted.filter { $0.isNew }.map { $0.row.voucher }, mode: .online)
            return Step(outputs: [.request(to: .bank, Envelope(requestID: envelope.requestID, body: .verifyCoins(verify)), deadlineMilliseconds: config.verifyDeadlineMilliseconds)])
        }
    }

    /// Checks every voucher and coin without changing anything.
    func check(_ payment: Payment, now: Timestamp, written: [VoucherID: MerchantVoucher] = [:]) throws -> [Accepted] {
        var attached: [VoucherID: SignedVoucher] = [:]
        for voucher in payment.vouchers { attached[voucher.id] = voucher }
        var accepted: [Accepted] = []
        for coin in payment.coins {
            var row: MerchantVoucher
            var isNew = false
            if let known = try written[coin.voucherID] ?? store.voucher(coin.voucherID) {
                row = known
            } else if let voucher = attached[coin.voucherID] {
                guard try !store.isClosedUnseen(voucher.id) else {
                    throw QuickPayError(.voucherClosed, "voucher \(voucher.id) was settled with the bank")
                }
                try voucher.verify(keyring: keyring, receiver: config.receiverID, now: now)
                row = MerchantVoucher(
                    voucher: voucher, last: .root(voucher.commitment.root), redeemedIndex: 0, receiptSeed: receiptSeed(voucher.id), closed: false)
                isNew = true
            } else {
                throw QuickPayError(.unknownVoucher, "voucher \(coin.voucherID) was never shown to this merchant")
            }
            guard !row.closed else { throw QuickPayError(.voucherClosed, "voucher \(coin.voucherID) was settled") }
            guard now < row.voucher.commitment.expiry else { throw QuickPayError(.expired, "voucher \(coin.voucherID) has expired") }
            let steps = try ChainVerifier.verify(coin.position, after: row.last, length: row.voucher.commitment.length)
            accepted.append(Accepted(row: row, coin: coin, steps: steps, isNew: isNew, attached: attached[coin.voucherID] != nil))
        }
        return accepted
    }

    /// The new last coins (and, online, that the bank already credited them) and the service
    /// with one receipt per coin: the batch is durable before the answer leaves.
    mutating func deliver(_ accepted: [Accepted], amount: Amount, order: String, creditedByBank: Bool = false) throws -> (MerchantBatch, Body) {
        var batch = MerchantBatch()
        var receipts: [Receipt] = []
        var roots: [SignedReceiptCommitment] = []
        for item in accepted {
            var row = item.row
            row.last = item.coin.position
            if creditedByBank { row.redeemedIndex = max(row.redeemedIndex, item.coin.index) }
            batch.vouchers.append(row)
            let chain = receiptChain(for: row)
            receipts.append(Receipt(voucherID: row.id, index: item.coin.index, value: chain.element(at: item.coin.index)))
            // A spent chain needs no more receipts (a retry is answered from the kept answer):
            // its 32 bytes per coin leave memory now, so memory follows the vouchers in use.
            if item.coin.index == row.voucher.commitment.length.value { receiptChains[row.id] = nil }
            if item.isNew || item.attached {
                let commitment = ReceiptCommitment(voucherID: row.id, receiverID: config.receiverID, length: row.voucher.commitment.length, root: chain.root)
                roots.append(.sign(commitment, with: receiptKey))
            }
        }
        let service = Array("\(config.receiverID) delivered \(amount) of \(order.isEmpty ? "service" : order)".utf8.prefix(PaymentReply.maximumServiceBytes))
        return (batch, .paymentReply(PaymentReply(receipts: receipts, receiptRoots: roots, service: service, amount: amount)))
    }

    mutating func receiptChain(for row: MerchantVoucher) -> HashChain {
        if let chain = receiptChains[row.id] { return chain }
        if receiptChains.count >= Self.receiptChainCacheLimit { receiptChains.removeAll(keepingCapacity: true) }
        let chain = HashChain(seed: row.receiptSeed, length: row.voucher.commitment.length)
        receiptChains[row.id] = chain
        return chain
    }

    // MARK: Settle (the bank closes a voucher for an unload)

    func settle(_ settle: Settle, envelope: Envelope, client: ClientID) throws -> Step<MerchantBatch> {
        guard var row = try store.voucher(settle.voucherID) else {
            // Never paid with: nothing is held, the bank refunds everything, and the voucher
            // must not be taken here afterwards.
            var batch = MerchantBatch()
            batch.closedUnseen = [settle.voucherID]
            let answer = SettleReply(voucherID: settle.voucherID, last: ChainPosition(index: 0, value: .zero))
            return Step(commit: batch, outputs: [.reply(to: client, envelope.reply(.settleReply(answer)))])
        }
        var batch = MerchantBatch()
        if !row.closed {
            // Closed for payments. The redeemed index stays: if the bank never processes this
            // answer, the ordinary redemption (allowed until the deposit deadline) still claims
            // the coins; if it does, that redemption is refused as already done.
            row.closed = true
            batch.vouchers = [row]
        }
        return Step(commit: batch.isEmpty ? nil : batch, outputs: [.reply(to: client, envelope.reply(.settleReply(SettleReply(voucherID: row.id, last: row.last))))])
    }

    // MARK: Redemption

    /// A redemption batch is with the bank (the next starts once it is answered).
    public var isRedeeming: Bool { !pendingRedemptions.isEmpty }
    /// Redemption batches ended (answered, refused or timed out) since start: a waiting
    /// control request reads the rows again only when this moves.
    public private(set) var redemptionsEnded = 0
    /// How the last batch ended when the bank refused it whole and for good (MODE_MISMATCH,
    /// UNKNOWN_RECEIVER...): sending it again cannot help. nil after any other end.
    public private(set) var lastRedemptionRefusal: QuickPayError?
    /// The vouchers whose coins the last batch to end carried: only their rows can have
    /// changed by its end.
    public private(set) var lastEndedRedemption: [VoucherID] = []

    /// Starts one redemption batch of the last coin of every voucher holding unredeemed coins.
    public mutating func redeem(now: Timestamp) -> Step<MerchantBatch> {
        lastRedemption = now
        guard pendingRedemptions.isEmpty, let rows = try? store.unredeemed(limit: Redeem.maximumCoins), !rows.isEmpty else { return .none }
        // A blind voucher never redeemed here may be unknown to the bank: it goes along (at most
        // 32 a batch; the rest wait for the next batch).
        var coins: [Coin] = []
        var vouchers: [SignedVoucher] = []
        for row in rows {
            if row.voucher.commitment.scheme == .blindRSA, row.redeemedIndex == 0 {
                guard vouchers.count < Redeem.maximumVouchers else { continue }
                vouchers.append(row.voucher)
            }
            coins.append(Coin(voucherID: row.id, index: row.last.index, value: row.last.value))
        }
        let request = Envelope(
            requestID: .timeOrdered(at: now, using: &random), body: .redeem(Redeem(receiverID: config.receiverID, coins: coins, mode: config.mode, vouchers: vouchers)))
        pendingRedemptions[request.requestID] = coins
        return Step(outputs: [.request(to: .bank, request, deadlineMilliseconds: config.redeemDeadlineMilliseconds)])
    }

    /// Redeems on its own every `redeemIntervalSeconds`.
    public mutating func tick(now: Timestamp) -> Step<MerchantBatch> {
        if let last = lastRedemption, now.secondsSinceEpoch - last.secondsSinceEpoch < config.redeemIntervalSeconds { return .none }
        return redeem(now: now)
    }

    public mutating func handlePeerReply(_ reply: Envelope?, requestID: RequestID, from peer: PeerName, now: Timestamp) -> Step<MerchantBatch> {
        if let coins = pendingRedemptions.removeValue(forKey: requestID) {
            redemptionsEnded += 1
            lastEndedRedemption = coins.map { $0.voucherID }
            lastRedemptionRefusal = nil
            if case .error(let error)? = reply?.body, !error.code.isTransient { lastRedemptionRefusal = error }
            return redeemed(coins, reply: reply)
        }
        guard let pending = pendingPayments.removeValue(forKey: requestID) else { return .none }
        vouchersInFlight.subtract(pending.accepted.map { $0.coin.voucherID })
        let envelope = pending.envelope
        let step = answering(envelope, to: pending.client) { () throws -> Step<MerchantBatch> in
            switch reply?.body {
            case .verifyCoinsReply(let credited)?:
                guard case .payment(let payment) = envelope.body else { return .none }
                // The bank's word on the amount: if an earlier verification timed out here but
                // committed at the bank, the bank's index is ahead of ours and it credited less
                // than we computed; the customer paid (and is told) what the bank credited.
                let (batch, body) = try deliver(pending.accepted, amount: credited, order: payment.order, creditedByBank: true)
                return Step(commit: batch, outputs: [.reply(to: pending.client, envelope.reply(body))], label: "payment")
            case .error(let error)?:
                throw error
            case nil:
                throw QuickPayError(.unavailable, "the bank did not verify the coins in time; nothing was delivered")
            case let other?:
                throw QuickPayError(.internal, "the bank answered \(other.typeName)")
            }
        }
        return releasingWaiting(after: step, now: now)
    }

    /// The payments that waited for the vouchers `step` is done with go on, in arrival order,
    /// checked against the rows `step` writes; a payment behind another on one of its vouchers
    /// keeps waiting. Online payments commit nothing until the bank answers, so `step`'s commit
    /// is the only one.
    mutating func releasingWaiting(after step: Step<MerchantBatch>, now: Timestamp) -> Step<MerchantBatch> {
        guard !waitingForBank.isEmpty else { return step }
        var written: [VoucherID: MerchantVoucher] = [:]
        for row in step.commit?.vouchers ?? [] { written[row.id] = row }
        var outputs = step.outputs
        var blocked: Set<VoucherID> = []
        var still: [Waiting] = []
        let waiting = waitingForBank
        waitingForBank = []
        vouchersWaiting = [:]
        for payment in waiting {
            let vouchers = payment.vouchers
            if !blocked.isDisjoint(with: vouchers) || !vouchersInFlight.isDisjoint(with: vouchers) {
                blocked.formUnion(vouchers)
                still.append(payment)
                for id in vouchers { vouchersWaiting[id, default: 0] += 1 }
                continue
            }
            let next = answering(payment.envelope, to: payment.client) {
                try pay(payment.payment, envelope: payment.envelope, client: payment.client, now: now, written: written)
            }
            outputs += next.outputs
        }
        waitingForBank = still + waitingForBank
        var released = step
        released.outputs = outputs
        return released
    }

    /// Records what the bank credited. A coin the bank refuses for good (already redeemed,
    /// closed, past the deadline, not a coin of that voucher) is done as well: retrying it
    /// could never succeed, and keeping it would block the batches behind it. Only transient
    /// refusals (storage, overload, unavailable) are tried again.
    func redeemed(_ coins: [Coin], reply: Envelope?) -> Step<MerchantBatch> {
        guard case .redeemReply(let answer)? = reply?.body else { return .none }
        var batch = MerchantBatch()
        for result in answer.results {
            if let error = result.error, error.code.isTransient { continue }
            guard let coin = coins.first(where: { $0.voucherID == result.voucherID }),
                var row = try? store.voucher(coin.voucherID), row.redeemedIndex < coin.index, coin.index <= row.last.index
            else { continue }
            row.redeemedIndex = coin.index
            batch.vouchers.append(row)
        }
        return Step(commit: batch.isEmpty ? nil : batch, label: "redeem_reply")
    }
}
