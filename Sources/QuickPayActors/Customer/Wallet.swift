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
    /// The merchant's signed receipt root and the last receipt checked against it.
    public var receiptRoot: SignedReceiptCommitment?
    public var lastReceipt: Int
    public var unloaded: Bool

    public init(voucher: SignedVoucher, seed: Bytes32, ownerSeed: Bytes32, spent: Int = 0, receiptRoot: SignedReceiptCommitment? = nil, lastReceipt: Int = 0, unloaded: Bool = false) {
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
public struct PreparedChain: Sendable {
    public let seed: Bytes32
    public let ownerSeed: Bytes32
    public let request: ChainRequest

    public init(seed: Bytes32, ownerSeed: Bytes32, request: ChainRequest) {
        self.seed = seed
        self.ownerSeed = ownerSeed
        self.request = request
    }
}

/// The coins chosen for one payment, and what the wallet expects back.
public struct PaymentPlan: Sendable {
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

/// The customer's wallet logic, pure: it makes chains, checks what the bank signed, picks coins
/// for an amount, checks receipts, and signs unloads. The customer executable stores it and
/// does the I/O.
public struct Wallet: Sendable {
    public var vouchers: [VoucherID: WalletVoucher] = [:]
    public init(vouchers: [WalletVoucher] = []) {
        for voucher in vouchers { self.vouchers[voucher.id] = voucher }
    }

    /// Chains for a load: `counts` coins per denomination, one chain each, seeds from `random`.
    public static func prepareLoad(counts: [Denomination: Int], using random: inout some RandomNumberGenerator) throws(QuickPayError) -> [PreparedChain] {
        var prepared: [PreparedChain] = []
        for denomination in Denomination.allCases.reversed() {
            guard let count = counts[denomination], count > 0 else { continue }
            let seed = Bytes32.random(using: &random)
            let ownerSeed = Bytes32.random(using: &random)
            let chain = HashChain(seed: seed, length: try ChainLength(count))
            prepared.append(PreparedChain(
                seed: seed, ownerSeed: ownerSeed,
                request: ChainRequest(denomination: denomination, length: chain.length, root: chain.root, ownerKey: SigningPrivateKey(seed: ownerSeed).publicKey)))
        }
        guard !prepared.isEmpty else { throw QuickPayError(.limitExceeded, "a load needs at least one coin") }
        return prepared
    }

    /// Takes the bank's vouchers for prepared chains, after checking each is what was asked for
    /// and signed by the bank.
    public mutating func acceptLoad(_ reply: LoadReply, prepared: [PreparedChain], keyring: BankKeyring, receiver: ReceiverID, now: Timestamp) throws(QuickPayError) {
        guard reply.vouchers.count == prepared.count else { throw QuickPayError(.internal, "the bank returned \(reply.vouchers.count) vouchers for \(prepared.count) chains") }
        for (voucher, chain) in zip(reply.vouchers, prepared) {
            try voucher.verify(keyring: keyring, receiver: receiver, now: now)
            let c = voucher.commitment
            guard c.root == chain.request.root, c.length == chain.request.length, c.denomination == chain.request.denomination,
                c.ownerKey == chain.request.ownerKey
            else { throw QuickPayError(.badSignature, "voucher \(voucher.id) does not commit to the chain the wallet made") }
        }
        for (voucher, chain) in zip(reply.vouchers, prepared) where vouchers[voucher.id] == nil {
            vouchers[voucher.id] = WalletVoucher(voucher: voucher, seed: chain.seed, ownerSeed: chain.ownerSeed)
        }
    }

    /// What the wallet can still spend at `receiver`.
    public func balance(at receiver: ReceiverID) -> Amount {
        (try? Amount.sum(vouchers.values.filter { $0.voucher.commitment.receiverID == receiver }.map { try $0.denomination.value(ofCoins: $0.remaining) })) ?? .zero
    }

    /// Picks coins that pay exactly `amount` at `receiver`: largest denominations first, one
    /// coin per voucher (a coin at index i + k pays for k coins at once).
    public func planPayment(to receiver: ReceiverID, amount: Amount, order: String = "") throws(QuickPayError) -> PaymentPlan {
        guard amount > .zero, amount.paise % 100 == 0 else { throw QuickPayError(.amountOutOfRange, "pay whole rupees, more than zero") }
        var rest = amount.paise / 100
        var coins: [Coin] = []
        var attach: [SignedVoucher] = []
        var previous: [VoucherID: Int] = [:]
        let usable = vouchers.values
            .filter { $0.voucher.commitment.receiverID == receiver && $0.remaining > 0 }
            .sorted { ($0.denomination.rupees, $0.remaining) > ($1.denomination.rupees, $1.remaining) }
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

    /// Marks the plan's coins spent: call (and persist) before the payment leaves the wallet.
    public mutating func markSent(_ plan: PaymentPlan) {
        for coin in plan.payment.coins { vouchers[coin.voucherID]?.spent = coin.index }
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
            // Each receipt is checked against the signed root (at most N hashes): the wallet keeps
            // only the root and the last index, never a previous receipt's value.
            try ChainVerifier.verify(receipt.position, after: .root(root.commitment.root), length: root.commitment.length)
            guard receipt.index > entry.lastReceipt else { throw QuickPayError(.replayedCoin, "receipt \(receipt.index) is not new") }
            entry.receiptRoot = root
            entry.lastReceipt = receipt.index
            updated[coin.voucherID] = entry
        }
        vouchers = updated
    }

    /// The unload id of a voucher: derived from its owner key's secret, so a retry after an
    /// unknown outcome is the same request (same id, same deterministic signature).
    public func unloadID(_ id: VoucherID, destination: UnloadDestination) throws(QuickPayError) -> RequestID {
        guard let entry = vouchers[id] else { throw QuickPayError(.unknownVoucher, "no voucher \(id) in the wallet") }
        let digest = Bytes32.sha256(of: Array("QuickPay/unload-id".utf8) + entry.ownerSeed.bytes + [destination.rawValue])
        return RequestID(Bytes16(digest.bytes.prefix(16))!)
    }

    /// Signs the unload of one voucher with its owner key.
    public func unload(_ id: VoucherID, destination: UnloadDestination, unloadID: RequestID) throws(QuickPayError) -> UnloadAuthorization {
        guard let entry = vouchers[id] else { throw QuickPayError(.unknownVoucher, "no voucher \(id) in the wallet") }
        return UnloadAuthorization.sign(unloadID: unloadID, voucherID: id, destination: destination, ownerKey: entry.ownerKey)
    }
}
