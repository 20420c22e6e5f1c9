import QuickPayCore
import QuickPayProtocol

/// One voucher in the wallet: the bank's voucher, the chain seed (it never leaves the wallet),
/// the one-time owner key, how far it is spent, and the merchant's receipts.
public struct WalletVoucher: Hashable, Sendable {
    public let voucher: SignedVoucher
    public let seed: Bytes32
    public let ownerSeed: Bytes32
    /// Coins sent so far (advanced before a coin leaves the wallet).
    public var spent: Int
    /// The merchant's signed receipt root and the last receipt checked against it: its index,
    /// and its value (the next receipt is checked from there, one hash per coin; without it,
    /// from the root, up to N hashes).
    public var receiptRoot: SignedReceiptCommitment?
    public var lastReceipt: Int
    public var lastReceiptValue: Bytes32?
    /// Closed at the bank: refunded by an unload (or closed by one the wallet did not finish).
    public var unloaded: Bool

    public init(
        voucher: SignedVoucher, seed: Bytes32, ownerSeed: Bytes32, spent: Int = 0, receiptRoot: SignedReceiptCommitment? = nil, lastReceipt: Int = 0,
        lastReceiptValue: Bytes32? = nil, unloaded: Bool = false
    ) {
        self.lastReceiptValue = lastReceiptValue
        self.voucher = voucher
        self.seed = seed
        self.ownerSeed = ownerSeed
        self.spent = spent
        self.receiptRoot = receiptRoot
        self.lastReceipt = lastReceipt
        self.unloaded = unloaded
    }

    public var id: VoucherID { voucher.id }
    public var denomination: Denomination { voucher.commitment.denomination }
    public var remaining: Int { unloaded ? 0 : voucher.commitment.length.value - spent }
    public var chain: HashChain { HashChain(seed: seed, length: voucher.commitment.length) }
    public var ownerKey: SigningPrivateKey { SigningPrivateKey(seed: ownerSeed) }
}

/// A chain made for a load, before the bank has signed it.
public struct PreparedChain: Hashable, Sendable {
    public let seed: Bytes32
    public let ownerSeed: Bytes32
    public let request: ChainRequest
    /// A blind load's key and the secret its prefix, salt and blinding factor derive from (nil:
    /// an Ed25519 load).
    public let blind: BlindPart?

    public struct BlindPart: Hashable, Sendable {
        public let key: BlindKey
        public let secret: Bytes32
        public init(key: BlindKey, secret: Bytes32) {
            self.key = key
            self.secret = secret
        }
    }

    public init(seed: Bytes32, ownerSeed: Bytes32, request: ChainRequest, blind: BlindPart? = nil) {
        self.seed = seed
        self.ownerSeed = ownerSeed
        self.request = request
        self.blind = blind
    }

    /// The chain request of a stored seed pair (the root is recomputed, never stored apart).
    public init(seed: Bytes32, ownerSeed: Bytes32, denomination: Denomination, length: ChainLength, blind: BlindPart? = nil) {
        let chain = HashChain(seed: seed, length: length)
        self.init(seed: seed, ownerSeed: ownerSeed, request: ChainRequest(
            denomination: denomination, length: length, root: chain.root, ownerKey: SigningPrivateKey(seed: ownerSeed).publicKey), blind: blind)
    }

    /// The blinded voucher message of a blind chain for `receiver`: the same bytes every time.
    public func blindRequest(for receiver: ReceiverID) throws(QuickPayError) -> BlindVoucherRequest? {
        guard let blind else { return nil }
        return try BlindVoucherRequest(key: blind.key, receiver: receiver, root: request.root, ownerKey: request.ownerKey, secret: blind.secret)
    }
}

/// The coins chosen for one payment, and what the wallet expects back.
public struct PaymentPlan: Hashable, Sendable {
    public let payment: Payment
    public let amount: Amount
    /// Per voucher: the index spent up to before this payment.
    public let previous: [VoucherID: Int]

    public init(payment: Payment, amount: Amount, previous: [VoucherID: Int]) {
        self.payment = payment
        self.amount = amount
        self.previous = previous
    }
}

/// Whether an operation's earlier attempts may have taken effect: only an answer from whoever
/// decides may then end it.
public enum AttemptState: String, Hashable, Sendable {
    /// Not sent yet, or every attempt so far was refused before it could take effect.
    case fresh
    /// An attempt went unanswered (or was answered UNAVAILABLE, INTERNAL): it may have taken effect.
    case unknown
}

/// A load whose chains are saved before the request leaves: the bank may have signed them.
public struct PendingLoad: Hashable, Sendable {
    public let requestID: RequestID
    public let receiver: ReceiverID
    public let chains: [PreparedChain]
    public var state: AttemptState

    /// The blinded messages of a blind load, made once from the stored secrets (the big-number
    /// work is the costly part of a blind load on the wallet's side); empty for Ed25519.
    public let blindRequests: [BlindVoucherRequest]

    public init(requestID: RequestID, receiver: ReceiverID, chains: [PreparedChain], state: AttemptState = .fresh) {
        self.requestID = requestID
        self.receiver = receiver
        self.chains = chains
        self.state = state
        self.blindRequests = chains.compactMap { try? $0.blindRequest(for: receiver) }
    }

    public var isBlind: Bool { chains.contains { $0.blind != nil } }

    /// One blind request per chain, or a typed error (a chain that could not be blinded).
    public func blinded() throws(QuickPayError) -> [BlindVoucherRequest] {
        guard blindRequests.count == chains.count, chains.allSatisfy({ $0.blind != nil }) else {
            throw QuickPayError(.malformed, "a blind load's chains must all be blind, and blind under their keys")
        }
        return blindRequests
    }

    /// What the load asks the bank for: the chains for the receiver (Ed25519), or the blinded
    /// messages (blind: no receiver, no root, no owner key leaves the wallet in the clear).
    public func content() throws(QuickPayError) -> LoadRequest.LoadContent {
        guard isBlind else { return .chains(receiver: receiver, chains.map(\.request)) }
        return .blinded(try blinded().map { BlindedChain(keyID: $0.key.keyID, blindedMessage: $0.blindedMessage) })
    }
}

/// A refresh whose new chains are saved before the request leaves: the bank may have signed
/// them. `load` holds the request id, the receiver of the new vouchers and their blind chains.
public struct PendingRefresh: Hashable, Sendable {
    public let voucherID: VoucherID
    public let refreshID: RequestID
    public let load: PendingLoad

    public init(voucherID: VoucherID, refreshID: RequestID, load: PendingLoad) {
        self.voucherID = voucherID
        self.refreshID = refreshID
        self.load = load
    }
}

/// A payment whose coins left the wallet: the merchant may hold them.
public struct PendingPayment: Hashable, Sendable {
    public let requestID: RequestID
    public let receiver: ReceiverID
    public let plan: PaymentPlan
    public var state: AttemptState

    public init(requestID: RequestID, receiver: ReceiverID, plan: PaymentPlan, state: AttemptState = .fresh) {
        self.requestID = requestID
        self.receiver = receiver
        self.plan = plan
        self.state = state
    }

    public var envelope: Envelope { Envelope(requestID: requestID, body: .payment(plan.payment)) }
}

/// An unload the wallet asked for and that is not refunded yet.
public struct PendingUnload: Hashable, Sendable {
    public let voucherID: VoucherID
    public let unloadID: RequestID
    public let destination: UnloadDestination
    public var state: AttemptState
    /// The bank's word that the refund waits for the merchant, at the latest until then.
    public var pendingUntil: Timestamp?

    public init(voucherID: VoucherID, unloadID: RequestID, destination: UnloadDestination, state: AttemptState = .fresh, pendingUntil: Timestamp? = nil) {
        self.voucherID = voucherID
        self.unloadID = unloadID
        self.destination = destination
        self.state = state
        self.pendingUntil = pendingUntil
    }
}

/// How a wallet operation ended.
public enum WalletOutcome<Success: Sendable>: Sendable {
    /// The answer the wallet wanted, checked.
    case done(Success)
    /// Refused by whoever decides: nothing happened, and the operation is over.
    case refused(QuickPayError)
    /// The outcome is still unknown: the operation stays pending and is sent again, under the
    /// same id, before any new one of its kind.
    case unknown(QuickPayError)
    /// The merchant took the coins but gave no (valid) receipt: the customer's risk of one step.
    case takenWithoutReceipt(QuickPayError)
}

/// The customer's wallet, pure: it makes chains, checks what the bank signed, picks coins, checks
/// receipts, signs unloads, and keeps every operation that left the wallet until an answer
/// settles it. The shell (`CustomerClient`) stores the wallet after each change and before
/// anything leaves, sends, and hands the answers back here. An answer is any `Body` that came
/// back, or nil when none came before the deadline.
public struct Wallet: Sendable {
    public var vouchers: [VoucherID: WalletVoucher] = [:]
    public var pendingLoad: PendingLoad?
    public var pendingPayments: [ReceiverID: PendingPayment] = [:]
    public var pendingUnloads: [VoucherID: PendingUnload] = [:]
    public var pendingRefresh: PendingRefresh?
    /// What the bank holds for a refresh, by unloaded voucher: kept from the unload's answer
    /// until a refresh takes it, so the wallet never forgets a refund it has not yet taken.
    public var heldRefunds: [VoucherID: Amount] = [:]

    public init(vouchers: [WalletVoucher] = [], pendingLoad: PendingLoad? = nil, pendingPayments: [PendingPayment] = [], pendingUnloads: [PendingUnload] = []) {
        for voucher in vouchers { self.vouchers[voucher.id] = voucher }
        self.pendingLoad = pendingLoad
        for payment in pendingPayments { self.pendingPayments[payment.receiver] = payment }
        for unload in pendingUnloads { self.pendingUnloads[unload.voucherID] = unload }
    }

    // MARK: Answers

    /// Whether an error is final for a request decided by `decider` (relays keep the origin).
    static func isFinal(_ error: QuickPayError, decidedBy decider: Set<ActorRole>) -> Bool {
        guard let origin = error.origin, decider.contains(origin) else { return false }
        return !error.code.isTransient
    }

    /// Whether a relay's refusal proves that no copy of the request went further. Only a refusal
    /// decided by the request's content does: every copy gets it alike. One that depends on the
    /// moment (a session that expired, an id in use, an overload) proves nothing about a copy sent
    /// earlier, which may have reached the bank: the retries of one request race each other.
    static func refusedForItsContent(by relay: ActorRole, _ error: QuickPayError) -> Bool {
        guard error.origin == relay else { return false }
        switch error.code {
        case .malformed, .unknownReceiver, .limitExceeded, .amountOutOfRange: return true
        default: return false
        }
    }

    static func error(of answer: Body?) -> QuickPayError {
        if case .error(let error)? = answer { return error }
        if let answer { return QuickPayError(.internal, "unexpected answer \(answer.typeName)") }
        return QuickPayError(.unavailable, "no answer before the deadline: the outcome is unknown")
    }

    // MARK: M2 load

    /// Chains for a load: `counts` coins per denomination, one chain each, seeds from `random`.
    /// With the bank's blind key list, each chain is for the key of its value at `now` (the key
    /// is the value), with a secret of its own for the blinding; a count no key's length matches
    /// is made of several chains of listed lengths (largest first), 16 chains at most a load.
    public static func prepareLoad(
        counts: [Denomination: Int], blindKeys: BlindKeyList? = nil, now: Timestamp = Timestamp(secondsSinceEpoch: 0), using random: inout some RandomNumberGenerator
    ) throws(QuickPayError) -> [PreparedChain] {
        var prepared: [PreparedChain] = []
        for denomination in Denomination.allCases.reversed() {
            guard let count = counts[denomination], count > 0 else { continue }
            let length = try ChainLength(count)
            guard let blindKeys else {
                prepared.append(PreparedChain(seed: .random(using: &random), ownerSeed: .random(using: &random), denomination: denomination, length: length))
                continue
            }
            let keys = blindKeys.keys.filter { $0.denomination == denomination && $0.validFrom <= now && now < $0.validUntil }.sorted { $0.length > $1.length }
            var rest = count
            while rest > 0 {
                guard let key = keys.first(where: { $0.length.value == rest }) ?? keys.first(where: { $0.length.value <= rest }) else {
                    throw QuickPayError(.unknownKey, "the bank's key list has no blind key for Rs \(denomination.rupees) coins that makes \(count) at \(now)")
                }
                rest -= key.length.value
                prepared.append(PreparedChain(
                    seed: .random(using: &random), ownerSeed: .random(using: &random), denomination: denomination, length: key.length,
                    blind: PreparedChain.BlindPart(key: key, secret: .random(using: &random))))
            }
        }
        guard prepared.count <= LoadRequest.maximumChains else {
            throw QuickPayError(.limitExceeded, "the bank's blind keys make this load of \(prepared.count) vouchers; at most \(LoadRequest.maximumChains)")
        }
        guard !prepared.isEmpty else { throw QuickPayError(.limitExceeded, "a load needs at least one coin") }
        return prepared
    }

    /// Starts a load (blind when the bank's key list is given); the caller stores the wallet
    /// before the request leaves. A load still pending must be finished first (UNAVAILABLE).
    public mutating func beginLoad(
        counts: [Denomination: Int], receiver: ReceiverID, blindKeys: BlindKeyList? = nil, now: Timestamp = Timestamp(secondsSinceEpoch: 0),
        using random: inout some RandomNumberGenerator
    ) throws(QuickPayError) -> PendingLoad {
        guard pendingLoad == nil else { throw QuickPayError(.unavailable, "an earlier load has no answer yet; it is sent again before a new one") }
        let load = PendingLoad(
            requestID: .random(using: &random), receiver: receiver, chains: try Self.prepareLoad(counts: counts, blindKeys: blindKeys, now: now, using: &random))
        pendingLoad = load
        return load
    }

    /// Settles the pending load by an answer. Only the bank decides a load: an app server's
    /// refusal ends it only if it refuses the request's content (then no copy went further).
    /// A blind load's reply comes back with its `vouchers` filled: the ones the wallet unblinded.
    public mutating func finishLoad(_ answer: Body?, keyring: BankKeyring, now: Timestamp) -> WalletOutcome<LoadReply> {
        guard let load = pendingLoad else { return .refused(QuickPayError(.malformed, "no load is pending")) }
        if case .loadReply(var reply)? = answer {
            do {
                reply.vouchers = try acceptLoad(
                    reply, prepared: load.chains, blinded: load.isBlind ? try load.blinded() : [], keyring: keyring, receiver: load.receiver, now: now)
            } catch {
                // A bad answer settles nothing: the bank's true answer comes with a retry.
                pendingLoad?.state = .unknown
                return .unknown(error)
            }
            pendingLoad = nil
            return .done(reply)
        }
        let error = Self.error(of: answer)
        if Self.isFinal(error, decidedBy: [.bank]) || Self.refusedForItsContent(by: .appServer, error) {
            pendingLoad = nil
            return .refused(error)
        }
        pendingLoad?.state = .unknown
        return .unknown(error)
    }

    /// Takes the bank's vouchers for prepared chains, after checking each is what was asked for
    /// and signed by the bank. For a blind load, the wallet unblinds each blind signature into
    /// its voucher and checks that as a merchant will. Returns the vouchers taken.
    @discardableResult
    public mutating func acceptLoad(
        _ reply: LoadReply, prepared: [PreparedChain], blinded: [BlindVoucherRequest] = [], keyring: BankKeyring, receiver: ReceiverID, now: Timestamp
    ) throws(QuickPayError) -> [SignedVoucher] {
        var signed = reply.vouchers
        if prepared.contains(where: { $0.blind != nil }) {
            guard reply.blindSignatures.count == prepared.count, blinded.count == prepared.count else {
                throw QuickPayError(.internal, "the bank returned \(reply.blindSignatures.count) blind signatures for \(prepared.count) chains")
            }
            signed = []
            for (signature, request) in zip(reply.blindSignatures, blinded) { signed.append(try request.finalize(signature)) }
        }
        guard signed.count == prepared.count else { throw QuickPayError(.internal, "the bank returned \(signed.count) vouchers for \(prepared.count) chains") }
        for (voucher, chain) in zip(signed, prepared) {
            try voucher.verify(keyring: keyring, receiver: receiver, now: now)
            let c = voucher.commitment
            guard c.root == chain.request.root, c.length == chain.request.length, c.denomination == chain.request.denomination,
                c.ownerKey == chain.request.ownerKey
            else { throw QuickPayError(.badSignature, "voucher \(voucher.id) does not commit to the chain the wallet made") }
        }
        for (voucher, chain) in zip(signed, prepared) where vouchers[voucher.id] == nil {
            vouchers[voucher.id] = WalletVoucher(voucher: voucher, seed: chain.seed, ownerSeed: chain.ownerSeed)
        }
        return signed
    }

    // MARK: M3 payment

    /// Whether a voucher's coins may be planned at `receiver` now.
    public func isSpendable(_ entry: WalletVoucher, at receiver: ReceiverID, now: Timestamp) -> Bool {
        entry.voucher.commitment.receiverID == receiver && entry.remaining > 0 && now < entry.voucher.commitment.expiry
            && pendingUnloads[entry.id] == nil
    }

    /// What the wallet can still spend at `receiver`.
    public func balance(at receiver: ReceiverID, now: Timestamp) -> Amount {
        (try? Amount.sum(vouchers.values.filter { isSpendable($0, at: receiver, now: now) }.map { try $0.denomination.value(ofCoins: $0.remaining) })) ?? .zero
    }

    /// Picks coins that pay exactly `amount` at `receiver`: largest denominations first, one
    /// coin per voucher (a coin at index i + k pays for k coins at once). Expired vouchers and
    /// those being unloaded are never planned.
    public func planPayment(to receiver: ReceiverID, amount: Amount, order: String = "", now: Timestamp) throws(QuickPayError) -> PaymentPlan {
        guard amount > .zero, amount.paise % 100 == 0 else { throw QuickPayError(.amountOutOfRange, "pay whole rupees, more than zero") }
        var rest = amount.paise / 100
        var coins: [Coin] = []
        var attach: [SignedVoucher] = []
        var previous: [VoucherID: Int] = [:]
        let usable = vouchers.values
            .filter { isSpendable($0, at: receiver, now: now) }
            .sorted { ($0.denomination.rupees, $0.remaining, $0.id.raw.hex) > ($1.denomination.rupees, $1.remaining, $1.id.raw.hex) }
        for entry in usable where rest > 0 && coins.count < Payment.maximumCoins {
            let take = min(Int64(entry.remaining), rest / entry.denomination.rupees)
            guard take > 0 else { continue }
            rest -= take * entry.denomination.rupees
            let index = entry.spent + Int(take)
            coins.append(Coin(voucherID: entry.id, index: index, value: entry.chain.element(at: index)))
            // Attach the voucher until a receipt proves the merchant has it (a first payment
            // whose answer was lost leaves the merchant possibly without it).
            if entry.lastReceipt == 0 { attach.append(entry.voucher) }
            previous[entry.id] = entry.spent
        }
        guard rest == 0 else { throw QuickPayError(.insufficientFunds, "the wallet cannot make \(amount) exactly at \(receiver)") }
        return PaymentPlan(payment: try Payment(coins: coins, vouchers: attach, order: order), amount: amount, previous: previous)
    }

    /// Plans a payment and marks its coins sent; the caller stores the wallet before it leaves.
    /// A payment at the same merchant whose outcome is unknown must be finished first: PayWord
    /// coins are cumulative, so a new coin would pay for it as well.
    public mutating func beginPayment(to receiver: ReceiverID, amount: Amount, order: String = "", now: Timestamp, using random: inout some RandomNumberGenerator) throws(QuickPayError) -> PendingPayment {
        guard pendingPayments[receiver] == nil else {
            throw QuickPayError(.unavailable, "an earlier payment at \(receiver) has no answer yet; it is sent again before any new one")
        }
        let plan = try planPayment(to: receiver, amount: amount, order: order, now: now)
        let payment = PendingPayment(requestID: .timeOrdered(at: now, using: &random), receiver: receiver, plan: plan)
        markSent(plan)
        pendingPayments[receiver] = payment
        return payment
    }

    /// Marks the plan's coins spent (idempotent: a resumed payment marks them again).
    public mutating func markSent(_ plan: PaymentPlan) {
        for coin in plan.payment.coins where (vouchers[coin.voucherID]?.spent ?? .max) < coin.index { vouchers[coin.voucherID]?.spent = coin.index }
    }

    /// Settles the pending payment at `receiver` by an answer. The merchant decides (or, online,
    /// the bank it relays): a refusal gives the coins back, unless it says the coins are already
    /// taken (REPLAYED_COIN: an earlier attempt of this payment got there); an unknown outcome
    /// keeps them spent and the payment pending.
    public mutating func finishPayment(at receiver: ReceiverID, _ answer: Body?) -> WalletOutcome<PaymentReply> {
        guard let pending = pendingPayments[receiver] else { return .refused(QuickPayError(.malformed, "no payment is pending at \(receiver)")) }
        if case .paymentReply(let reply)? = answer {
            pendingPayments[receiver] = nil
            do {
                try acceptReceipts(reply, for: pending.plan)
                return .done(reply)
            } catch {
                return .takenWithoutReceipt(error)
            }
        }
        let error = Self.error(of: answer)
        guard Self.isFinal(error, decidedBy: [.merchant, .bank]) else {
            pendingPayments[receiver]?.state = .unknown
            return .unknown(error)
        }
        pendingPayments[receiver] = nil
        if error.code == .replayedCoin { return .takenWithoutReceipt(error) }
        markRefused(pending.plan)
        return .refused(error)
    }

    /// The merchant refused a sent plan for good (it took none of its coins): they are the
    /// wallet's again, unless something was spent after them.
    public mutating func markRefused(_ plan: PaymentPlan) {
        for coin in plan.payment.coins where vouchers[coin.voucherID]?.spent == coin.index {
            vouchers[coin.voucherID]?.spent = plan.previous[coin.voucherID] ?? 0
        }
    }

    /// Checks the merchant's receipts for a sent plan: one per coin, each on the merchant's
    /// signed receipt chain for that voucher, at the coin's index. The next payment waits for this.
    public mutating func acceptReceipts(_ reply: PaymentReply, for plan: PaymentPlan) throws(QuickPayError) {
        guard reply.amount == plan.amount else { throw QuickPayError(.internal, "merchant credited \(reply.amount), paid \(plan.amount)") }
        var roots: [VoucherID: SignedReceiptCommitment] = [:]
        for root in reply.receiptRoots {
            try root.verify()
            roots[root.commitment.voucherID] = root
        }
        var updated = vouchers
        for coin in plan.payment.coins {
            guard var entry = updated[coin.voucherID], let receipt = reply.receipts.first(where: { $0.voucherID == coin.voucherID }),
                receipt.index == coin.index
            else { throw QuickPayError(.badChain, "no receipt for coin \(coin.index) of voucher \(coin.voucherID)") }
            guard let root = entry.receiptRoot ?? roots[coin.voucherID] else {
                throw QuickPayError(.badSignature, "no signed receipt root for voucher \(coin.voucherID)")
            }
            guard receipt.index > entry.lastReceipt else { throw QuickPayError(.replayedCoin, "receipt \(receipt.index) is not new") }
            // Checked from the last receipt checked (itself on the signed chain): one hash per
            // coin paid. From the signed root when there is none yet (up to N hashes).
            let after = entry.lastReceiptValue.map { ChainPosition(index: entry.lastReceipt, value: $0) } ?? .root(root.commitment.root)
            try ChainVerifier.verify(receipt.position, after: after, length: root.commitment.length)
            entry.receiptRoot = root
            entry.lastReceipt = receipt.index
            entry.lastReceiptValue = receipt.value
            updated[coin.voucherID] = entry
        }
        vouchers = updated
    }

    // MARK: M4 unload

    /// The unload id of a voucher: derived from its owner key's secret, so a retry after an
    /// unknown outcome is the same request (same id, same deterministic signature).
    public func unloadID(_ id: VoucherID, destination: UnloadDestination) throws(QuickPayError) -> RequestID {
        guard let entry = vouchers[id] else { throw QuickPayError(.unknownVoucher, "no voucher \(id) in the wallet") }
        let digest = Bytes32.sha256(of: Array("QuickPay/unload-id".utf8) + entry.ownerSeed.bytes + [destination.rawValue])
        return RequestID(Bytes16(digest.bytes.prefix(16))!)
    }

    /// Signs the unload of one voucher with its owner key. A blind voucher's unload names the
    /// account its refund goes to (the session's: `SessionGranted.account`).
    public func unload(_ id: VoucherID, destination: UnloadDestination, unloadID: RequestID, account: AccountID? = nil) throws(QuickPayError) -> UnloadAuthorization {
        guard let entry = vouchers[id] else { throw QuickPayError(.unknownVoucher, "no voucher \(id) in the wallet") }
        guard entry.voucher.commitment.scheme == .ed25519 || account != nil || destination == .refresh else {
            throw QuickPayError(.unknownAccount, "a blind voucher's unload names the account the refund goes to")
        }
        guard destination != .refresh || entry.voucher.commitment.scheme == .blindRSA else {
            throw QuickPayError(.malformed, "only blind vouchers are refreshed")
        }
        return UnloadAuthorization.sign(
            unloadID: unloadID, voucherID: id, destination: destination,
            account: entry.voucher.commitment.scheme == .blindRSA && destination != .refresh ? account : nil, ownerKey: entry.ownerKey)
    }

    /// The unload request for one voucher: a blind voucher travels with it (the bank may never
    /// have seen it).
    public func unloadRequest(_ id: VoucherID, destination: UnloadDestination, unloadID: RequestID, session: SessionToken, account: AccountID?) throws(QuickPayError) -> UnloadRequest {
        guard let entry = vouchers[id] else { throw QuickPayError(.unknownVoucher, "no voucher \(id) in the wallet") }
        let authorization = try unload(id, destination: destination, unloadID: unloadID, account: account)
        return UnloadRequest(session: session, authorization: authorization, voucher: entry.voucher.commitment.scheme == .blindRSA ? entry.voucher : nil)
    }

    /// Every unload to send now: those still pending (with the destination they were started
    /// with), then a new one for each voucher with unspent coins. The caller stores the wallet
    /// before they leave. A payment still pending on a voucher does not hold its unload back:
    /// the bank closes the voucher at whatever index the merchant settles with (the pending
    /// coins included, if the merchant took them), and refunds the rest.
    public mutating func beginUnloads(destination: UnloadDestination) -> [PendingUnload] {
        for entry in vouchers.values.sorted(by: { $0.id.raw.hex < $1.id.raw.hex })
        where entry.remaining > 0 && pendingUnloads[entry.id] == nil {
            guard let id = try? unloadID(entry.id, destination: destination) else { continue }
            pendingUnloads[entry.id] = PendingUnload(voucherID: entry.id, unloadID: id, destination: destination)
        }
        // A refresh's unload is finished by the refresh, which takes what the bank holds.
        return pendingUnloads.values.filter { $0.destination != .refresh }.sorted { $0.voucherID.raw.hex < $1.voucherID.raw.hex }
    }

    // MARK: Refresh (blind vouchers)

    /// Starts the first half of a refresh: an unload of a blind voucher with destination
    /// REFRESH (the bank holds the refund for the owner key, in no account). The caller stores
    /// the wallet before it leaves; a refresh already pending is finished first.
    /// The keys of the moment must be able to make whatever the bank may hold (any whole amount
    /// up to the voucher's unspent value: a key of Re 1 x 1, and the whole value within 16
    /// vouchers), or the refund would be held with no refresh able to take it: refused before.
    public mutating func beginRefreshUnload(_ id: VoucherID, blindKeys: BlindKeyList, now: Timestamp) throws(QuickPayError) -> PendingUnload {
        guard pendingRefresh == nil else { throw QuickPayError(.unavailable, "an earlier refresh has no answer yet; it is sent again before a new one") }
        guard let entry = vouchers[id], entry.voucher.commitment.scheme == .blindRSA else {
            throw QuickPayError(.unknownVoucher, "no blind voucher \(id) in the wallet")
        }
        if let pending = pendingUnloads[id] {
            // An unload to an account already left (or may have): it finishes first, as itself.
            guard pending.destination == .refresh else {
                throw QuickPayError(.unavailable, "an unload of voucher \(id) to an account is pending; it is finished first")
            }
            return pending
        }
        guard entry.remaining > 0 else { throw QuickPayError(.voucherClosed, "voucher \(id) has no coins left to refresh") }
        let unspent = Int(try entry.denomination.value(ofCoins: entry.remaining).paise / 100)
        let counts = Self.fewestChains(upTo: unspent, blindKeys: blindKeys, now: now)
        guard counts.dropFirst().allSatisfy({ $0 <= LoadRequest.maximumChains }) else {
            throw QuickPayError(.unknownKey, "the bank's keys of the moment cannot make every amount up to Rs \(unspent) in \(LoadRequest.maximumChains) vouchers; unload to an account instead")
        }
        let unload = PendingUnload(voucherID: id, unloadID: try unloadID(id, destination: .refresh), destination: .refresh)
        pendingUnloads[id] = unload
        return unload
    }

    /// The second half: new blind chains worth exactly what the bank holds for voucher `id`, for
    /// `receiver`, under the keys of the moment (largest values first), saved before it leaves.
    public mutating func beginRefresh(
        _ id: VoucherID, receiver: ReceiverID, blindKeys: BlindKeyList, now: Timestamp, using random: inout some RandomNumberGenerator
    ) throws(QuickPayError) -> PendingRefresh {
        guard pendingRefresh == nil else { throw QuickPayError(.unavailable, "an earlier refresh has no answer yet") }
        guard vouchers[id] != nil else { throw QuickPayError(.unknownVoucher, "no voucher \(id) in the wallet") }
        guard let amount = heldRefunds[id] else { throw QuickPayError(.voucherClosed, "the bank holds nothing for a refresh of \(id); unload it to REFRESH first") }
        let chains = try Self.refreshChains(amount, blindKeys: blindKeys, now: now).map { key in
            PreparedChain(
                seed: .random(using: &random), ownerSeed: .random(using: &random), denomination: key.denomination, length: key.length,
                blind: PreparedChain.BlindPart(key: key, secret: .random(using: &random)))
        }
        let refresh = PendingRefresh(
            voucherID: id, refreshID: .random(using: &random), load: PendingLoad(requestID: .random(using: &random), receiver: receiver, chains: chains))
        pendingRefresh = refresh
        return refresh
    }

    /// The keys of the moment, by face value in rupees (one per value).
    static func keysByValue(_ blindKeys: BlindKeyList, now: Timestamp) -> [Int: BlindKey] {
        var out: [Int: BlindKey] = [:]
        for key in blindKeys.keys where key.validFrom <= now && now < key.validUntil {
            let value = Int(key.faceValue.paise / 100)
            if out[value] == nil || key.denomination > out[value]!.denomination { out[value] = key }
        }
        return out
    }

    /// For every whole amount 0...`amount` rupees, the fewest vouchers of the keys of the moment
    /// that make it exactly (Int.max: none can).
    public static func fewestChains(upTo amount: Int, blindKeys: BlindKeyList, now: Timestamp) -> [Int] {
        let values = Array(keysByValue(blindKeys, now: now).keys)
        var fewest = [Int](repeating: .max, count: max(amount, 0) + 1)
        fewest[0] = 0
        if amount >= 1 {
            for total in 1...amount {
                for value in values where value <= total && fewest[total - value] != .max {
                    fewest[total] = min(fewest[total], fewest[total - value] + 1)
                }
            }
        }
        return fewest
    }

    /// The keys whose vouchers make `amount` exactly in the fewest vouchers (16 at most).
    static func refreshChains(_ amount: Amount, blindKeys: BlindKeyList, now: Timestamp) throws(QuickPayError) -> [BlindKey] {
        guard amount.paise % 100 == 0, amount.paise > 0 else { throw QuickPayError(.amountOutOfRange, "a refresh takes whole rupees, more than zero") }
        let rupees = Int(amount.paise / 100)
        let fewest = fewestChains(upTo: rupees, blindKeys: blindKeys, now: now)
        guard fewest[rupees] <= LoadRequest.maximumChains else {
            throw QuickPayError(.unknownKey, "no blind keys of the moment make \(amount) in \(LoadRequest.maximumChains) vouchers")
        }
        let byValue = keysByValue(blindKeys, now: now)
        var keys: [BlindKey] = []
        var rest = rupees
        while rest > 0 {
            // A value whose remainder is made in one voucher fewer: the table guarantees one.
            guard let (value, key) = byValue.sorted(by: { $0.key > $1.key }).first(where: { $0.key <= rest && fewest[rest - $0.key] == fewest[rest] - 1 }) else {
                throw QuickPayError(.internal, "no key continues the refresh of \(amount)")
            }
            keys.append(key)
            rest -= value
        }
        return keys
    }

    /// The request of a pending refresh, signed by the old voucher's owner key.
    public func refreshRequest(_ refresh: PendingRefresh, session: SessionToken) throws(QuickPayError) -> RefreshRequest {
        guard let entry = vouchers[refresh.voucherID] else { throw QuickPayError(.unknownVoucher, "no voucher \(refresh.voucherID) in the wallet") }
        let blinded = try refresh.load.blinded().map { BlindedChain(keyID: $0.key.keyID, blindedMessage: $0.blindedMessage) }
        let authorization = RefreshAuthorization.sign(
            refreshID: refresh.refreshID, voucherID: refresh.voucherID, blinded: blinded.map { ($0.keyID, $0.blindedMessage) }, ownerKey: entry.ownerKey)
        return RefreshRequest(session: session, authorization: authorization, blinded: blinded)
    }

    /// Settles the pending refresh by an answer: the bank's blind signatures are unblinded into
    /// the new vouchers (returned); only the bank decides a refresh.
    public mutating func finishRefresh(_ answer: Body?, keyring: BankKeyring, now: Timestamp) -> WalletOutcome<[SignedVoucher]> {
        guard let refresh = pendingRefresh else { return .refused(QuickPayError(.malformed, "no refresh is pending")) }
        if case .refreshReply(let reply)? = answer, reply.voucherID == refresh.voucherID {
            do {
                let taken = try acceptLoad(
                    LoadReply(blindSignatures: reply.blindSignatures, debited: reply.refreshed), prepared: refresh.load.chains, blinded: try refresh.load.blinded(),
                    keyring: keyring, receiver: refresh.load.receiver, now: now)
                pendingRefresh = nil
                heldRefunds[refresh.voucherID] = nil
                return .done(taken)
            } catch {
                pendingRefresh = refresh
                return .unknown(error)
            }
        }
        let error = Self.error(of: answer)
        if Self.isFinal(error, decidedBy: [.bank]) || Self.refusedForItsContent(by: .appServer, error) {
            // The refund stays held (a key's epoch ended meanwhile, say): planned again next
            // time; unless the bank says nothing is held any more.
            pendingRefresh = nil
            if error.code == .voucherClosed { heldRefunds[refresh.voucherID] = nil }
            return .refused(error)
        }
        return .unknown(error)
    }

    /// Settles one pending unload by an answer. A refund ends it; "pending until" keeps it (the
    /// bank waits for the merchant; ask again later); only the bank's refusals end it otherwise.
    public mutating func finishUnload(_ voucherID: VoucherID, _ answer: Body?) -> WalletOutcome<UnloadReply> {
        guard let pending = pendingUnloads[voucherID] else { return .refused(QuickPayError(.malformed, "no unload is pending for \(voucherID)")) }
        if case .unloadReply(let reply)? = answer, reply.voucherID == voucherID {
            if reply.pendingUntil != nil {
                pendingUnloads[voucherID]?.state = .unknown
                pendingUnloads[voucherID]?.pendingUntil = reply.pendingUntil
                return .unknown(QuickPayError(.unavailable, "the bank waits for the merchant to settle; refund at the latest at \(reply.pendingUntil!)"))
            }
            pendingUnloads[voucherID] = nil
            vouchers[voucherID]?.unloaded = true
            if pending.destination == .refresh, reply.refunded > .zero { heldRefunds[voucherID] = reply.refunded }
            return .done(reply)
        }
        let error = Self.error(of: answer)
        if Self.isFinal(error, decidedBy: [.bank]) {
            pendingUnloads[voucherID] = nil
            // Closed by something else: its coins cannot be spent any more.
            if error.code == .voucherClosed { vouchers[voucherID]?.unloaded = true }
            return .refused(error)
        }
        if Self.refusedForItsContent(by: .appServer, error) {
            pendingUnloads[voucherID] = nil
            return .refused(error)
        }
        pendingUnloads[voucherID]?.state = .unknown
        return .unknown(error)
    }
}
