import QuickPayCore
import QuickPayProtocol

/// The bank's policy knobs. Defaults are the demo's; scenarios shorten them.
public struct BankConfig: Sendable {
    /// How long a new voucher can be spent.
    public var voucherValiditySeconds: Int64 = 30 * 24 * 3600
    /// After expiry, how long a merchant may still redeem; also when a pending unload refunds.
    public var depositWindowSeconds: Int64 = 24 * 3600
    /// How long the bank waits for a merchant to answer one Settle.
    public var settleDeadlineMilliseconds: Int = 2000
    /// After an unanswered Settle, the bank asks again after this long, doubling each time up to
    /// `settleMaximumBackoffSeconds`, until the merchant answers or the deposit deadline refunds.
    public var settleFirstBackoffSeconds: Int64 = 2
    public var settleMaximumBackoffSeconds: Int64 = 600
    /// Settles sent at once (each closing voucher waits its turn).
    public var maximumSettlesInFlight = 64
    /// Who may call: the app server for account and voucher work, each merchant for its own
    /// coins. nil (a plaintext `--insecure` deployment): callers are not authenticated.
    public var callers: CallerPolicy?
    public init() {}
}

/// The bank: accounts and a double-entry ledger; signs vouchers on load; verifies and marks
/// coins for online merchants; credits redemptions; closes vouchers and refunds unloads.
///
/// Pure: the store is read behind `BankStore`, every change is a `BankBatch` the host commits,
/// time comes in as `now`, randomness is injected. Request ids are the host's business (its
/// idempotency stage, with the policies of `idempotency(of:)`); an unload is idempotent by its
/// signed unload id, which the voucher row keeps.
public struct BankActor: ServerActor {
    public typealias Batch = BankBatch
    public static let role = ActorRole.bank

    let store: any BankStore
    let signer: BankSigner
    /// The blind-signing keys (nil: this bank signs Ed25519 vouchers only), and the keyring that
    /// checks a blind voucher when the bank first sees it.
    let blind: BlindSigner?
    let blindKeyring: BankKeyring
    let config: BankConfig
    var random: any RandomNumberGenerator
    /// Settles sent and not yet answered, by request id: the voucher, and the unload requests
    /// waiting for the outcome (a settle the bank sends on its own has none).
    var pendingSettles: [RequestID: PendingSettle] = [:]
    /// Per closing voucher: the Settle in flight, how many went unanswered, and when to ask again.
    var settles: [VoucherID: SettleSchedule] = [:]

    struct PendingSettle {
        let voucherID: VoucherID
        var waiting: [WaitingUnload]
    }

    struct WaitingUnload {
        let client: ClientID
        let envelope: Envelope
    }

    struct SettleSchedule {
        var inFlight: RequestID?
        var unanswered = 0
        var nextAt: Timestamp
    }

    public init(store: any BankStore, signer: BankSigner, blind: BlindSigner? = nil, config: BankConfig = BankConfig(), random: any RandomNumberGenerator) {
        self.store = store
        self.signer = signer
        self.blind = blind
        self.blindKeyring = BankKeyring([], blindKeys: blind?.list)
        self.config = config
        self.random = random
    }

    public var publicKey: SigningPublicKey { signer.privateKey.publicKey }

    public func idempotency(of body: Body) -> IdempotencyPolicy? {
        switch body {
        // The id is all that stops a second debit or transfer: kept for good.
        case .bankLoad, .bankWithdraw, .bankRefresh: .moneyMoving(.caller)
        // Chain indexes and credited code hashes already bound these; answers are kept for retries.
        case .verifyCoins, .redeem, .bankCredit: .retried(.caller)
        default: nil
        }
    }

    public mutating func handle(_ envelope: Envelope, from client: ClientID, now: Timestamp) -> Step<BankBatch> {
        answering(envelope, to: client) {
            if let callers = config.callers { try Self.authorize(envelope.body, client, callers) }
            switch envelope.body {
            case .bankLoad(let request):
                return try committing(envelope, client, try load(request, now: now))
            case .verifyCoins(let request):
                return try committing(envelope, client, try verifyCoins(request, now: now))
            case .redeem(let request):
                return try committing(envelope, client, try redeem(request, now: now))
            case .bankWithdraw(let request):
                return try committing(envelope, client, try withdraw(request))
            case .bankCredit(let request):
                return try committing(envelope, client, try credit(request))
            case .bankBalance(let account):
                guard try store.accountExists(account) else { throw QuickPayError(.unknownAccount, "no account \(account)") }
                let balances = Balances(bank: try store.balance(.bank(account)), quickPay: try store.balance(.quickPay(account)))
                return .reply(to: client, envelope.reply(.balanceReply(balances)))
            case .bankUnload(let request):
                return try unload(request, envelope: envelope, client: client, now: now)
            case .bankRefresh(let request):
                return try committing(envelope, client, try refresh(request, now: now))
            case .bankAccountOwner(let account, let role):
                // Registration asks where the account's code goes (only the app server may ask).
                guard let owner = try store.owner(of: account) else { throw QuickPayError(.unknownAccount, "no account \(account)") }
                guard (owner.receiver != nil) == (role == .merchant) else {
                    throw QuickPayError(.forbidden, "account \(account) is not a \(role == .merchant ? "merchant's" : "customer's") account")
                }
                guard let phone = owner.phone else { throw QuickPayError(.forbidden, "account \(account) has no phone of record; the bank must add one first") }
                return .reply(to: client, envelope.reply(.accountOwner(phone: phone)))
            case .modeQuery(let receiver):
                let record = try knownReceiver(receiver)
                return .reply(to: client, envelope.reply(.modeReply(ModeReply(receiverID: receiver, mode: record.mode))))
            default:
                throw QuickPayError(.malformed, "the bank does not take \(envelope.body.typeName)")
            }
        }
    }

    static func authorize(_ body: Body, _ client: ClientID, _ callers: CallerPolicy) throws(QuickPayError) {
        switch body {
        case .verifyCoins(let request): try callers.requireMerchant(client, as: request.receiverID, for: body.typeName)
        case .redeem(let request): try callers.requireMerchant(client, as: request.receiverID, for: body.typeName)
        case .modeQuery(let receiver): try callers.requireMerchant(client, as: receiver, for: body.typeName)
        case .bankLoad, .bankWithdraw, .bankCredit, .bankBalance, .bankUnload, .bankAccountOwner, .bankRefresh: try callers.requireAppServer(client, for: body.typeName)
        default: return
        }
    }

    func committing(_ envelope: Envelope, _ client: ClientID, _ work: (BankBatch, Body)) throws -> Step<BankBatch> {
        Step(commit: work.0, outputs: [.reply(to: client, envelope.reply(work.1))])
    }

    // MARK: M2 load

    mutating func load(_ request: LoadRequest, now: Timestamp) throws -> (BankBatch, Body) {
        guard let account = request.account, try store.accountExists(account) else {
            throw QuickPayError(.unknownAccount, "no account \(request.account?.value ?? "-")")
        }
        switch request.content {
        case .chains(let receiver, let chains): return try load(chains, for: receiver, account: account, now: now)
        case .blinded(let blinded): return try loadBlind(blinded, account: account, now: now)
        }
    }

    /// A blind load: the key names the value; the bank debits it into that key's float and signs
    /// each blinded message, learning nothing of the voucher (no root, receiver, owner key) and
    /// storing nothing of it beyond the host's kept answer.
    func loadBlind(_ blinded: [BlindedChain], account: AccountID, now: Timestamp) throws -> (BankBatch, Body) {
        let issue = try BlindIssue(blinded, blind, now: now)
        try TransferLimits.check(issue.total)
        let available = try store.balance(.bank(account))
        guard available >= issue.total else {
            throw QuickPayError(.insufficientFunds, "account \(account) holds \(available), the load needs \(issue.total)")
        }
        var batch = BankBatch()
        batch.postings = issue.postings(from: .bank(account))
        return (batch, .loadReply(LoadReply(blindSignatures: try issue.sign(), debited: issue.total)))
    }

    /// New blind vouchers asked for by a load or a refresh: each chain's key (in the bank's list
    /// and in its epoch), what they are worth per key and in all; signed only once the caller
    /// has checked the money (a private-key operation is the costly part).
    struct BlindIssue {
        let blinded: [BlindedChain]
        let keys: [BlindKey]
        let signer: BlindSigner
        let byKey: [KeyID: Amount]
        let total: Amount

        init(_ blinded: [BlindedChain], _ signer: BlindSigner?, now: Timestamp) throws {
            guard let signer else { throw QuickPayError(.unknownKey, "this bank signs no blind vouchers") }
            var byKey: [KeyID: Amount] = [:]
            var keys: [BlindKey] = []
            for chain in blinded {
                let key = try BankActor.loadableKey(chain.keyID, signer.list, now: now)
                keys.append(key)
                byKey[key.keyID] = try (byKey[key.keyID] ?? .zero).adding(key.faceValue)
            }
            self.blinded = blinded
            self.keys = keys
            self.signer = signer
            self.byKey = byKey
            self.total = try Amount.sum(Array(byKey.values))
        }

        func sign() throws(QuickPayError) -> [[UInt8]] {
            var signatures: [[UInt8]] = []
            for (chain, key) in zip(blinded, keys) { signatures.append(try signer.sign(chain.blindedMessage, with: key)) }
            return signatures
        }

        /// The money into each key's float, in key-id order.
        func postings(from source: LedgerAccount) -> [Posting] {
            byKey.sorted { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }.map { Posting(from: source, to: .blindFloat($0.key), amount: $0.value) }
        }

        /// A request past retention, asked again: the same blinded messages signed again (RSA
        /// signing is deterministic), whatever the epoch now; nil if a key is no longer listed.
        static func signedAgain(_ blinded: [BlindedChain], _ signer: BlindSigner?) -> (signatures: [[UInt8]], total: Amount)? {
            guard let signer else { return nil }
            var signatures: [[UInt8]] = []
            var total = Amount.zero
            for chain in blinded {
                guard let key = signer.list.key(id: chain.keyID), let signature = try? signer.sign(chain.blindedMessage, with: key),
                    let sum = try? total.adding(key.faceValue)
                else { return nil }
                signatures.append(signature)
                total = sum
            }
            return (signatures, total)
        }
    }

    /// A refresh: the refund a blind voucher's unload (destination REFRESH) holds, taken whole as
    /// new blind vouchers under the keys of the moment. The owner key must have signed exactly
    /// these blinded messages; their values must add up to what is held; what is held is spent
    /// once (a replay under another id finds nothing held). The bank learns no account.
    func refresh(_ request: RefreshRequest, now: Timestamp) throws -> (BankBatch, Body) {
        let id = request.authorization.voucherID
        guard let row = try store.voucher(id) else { throw QuickPayError(.unknownVoucher, "no voucher \(id); unload it to REFRESH first") }
        try request.authorization.verify(against: row.commitment, blinded: request.signed)
        let holding = LedgerAccount.refreshHolding(id)
        let held = try store.balance(holding)
        guard case .closed = row.state, held > .zero else {
            throw QuickPayError(.voucherClosed, "voucher \(id) holds no refund for a refresh (not unloaded to REFRESH, or refreshed already)")
        }
        let issue = try BlindIssue(request.blinded, blind, now: now)
        guard issue.total == held else {
            throw QuickPayError(.amountOutOfRange, "voucher \(id) holds \(held) for a refresh; the new vouchers are worth \(issue.total)")
        }
        var batch = BankBatch()
        batch.postings = issue.postings(from: holding)
        return (batch, .refreshReply(RefreshReply(voucherID: id, blindSignatures: try issue.sign(), refreshed: issue.total)))
    }

    /// The key a blind load names, if it is the bank's and signs loads now.
    static func loadableKey(_ id: KeyID, _ list: BlindKeyList, now: Timestamp) throws(QuickPayError) -> BlindKey {
        guard let key = list.key(id: id) else { throw QuickPayError(.unknownKey, "no blind key \(id) in the bank's key list") }
        guard key.validFrom <= now else { throw QuickPayError(.unknownKey, "blind key \(id) signs loads from \(key.validFrom)") }
        guard now < key.validUntil else { throw QuickPayError(.expired, "blind key \(id) signed loads until \(key.validUntil); its epoch is over") }
        return key
    }

    mutating func load(_ chains: [ChainRequest], for receiverID: ReceiverID, account: AccountID, now: Timestamp) throws -> (BankBatch, Body) {
        guard try store.receiver(receiverID) != nil else {
            throw QuickPayError(.unknownReceiver, "no receiver \(receiverID)")
        }
        let roots = chains.map(\.root)
        guard Set(roots).count == roots.count else { throw QuickPayError(.malformed, "a load carries each chain root once") }
        for root in roots where try store.voucher(root: root) != nil {
            // A retry of the same load is answered by the host from its records; another request
            // with a root already signed would make two vouchers of one chain.
            throw QuickPayError(.conflict, "the chain with root \(root.hex.prefix(16))... is loaded already")
        }
        let total = try Amount.sum(chains.map(\.value))
        try TransferLimits.check(total)
        let available = try store.balance(.bank(account))
        guard available >= total else {
            throw QuickPayError(.insufficientFunds, "account \(account) holds \(available), the load needs \(total)")
        }
        var batch = BankBatch()
        batch.postings = [Posting(from: .bank(account), to: .voucherFloat, amount: total)]
        var vouchers: [SignedVoucher] = []
        for chain in chains {
            // 128 random bits never repeat in practice; a repeat would fail the commit forever.
            var voucherID = VoucherID.random(using: &random)
            while try store.voucher(voucherID) != nil || batch.vouchers.contains(where: { $0.commitment.voucherID == voucherID }) {
                voucherID = .random(using: &random)
            }
            let commitment = VoucherCommitment(
                voucherID: voucherID, receiverID: receiverID, denomination: chain.denomination,
                length: chain.length, root: chain.root, expiry: now.adding(seconds: config.voucherValiditySeconds),
                ownerKey: chain.ownerKey, keyID: signer.keyID)
            vouchers.append(signer.sign(commitment))
            batch.vouchers.append(BankVoucher(commitment: commitment, account: account, redeemed: .root(chain.root), state: .open))
        }
        return (batch, .loadReply(LoadReply(vouchers: vouchers, debited: total)))
    }

    /// A load whose answer is past retention, retried: its vouchers are found by their roots and
    /// signed again (the same commitments; a signature is as good as the first), debiting nothing.
    public func reanswer(_ envelope: Envelope, now: Timestamp) -> Body? {
        if case .bankRefresh(let request) = envelope.body {
            guard let again = BlindIssue.signedAgain(request.blinded, blind) else { return nil }
            return .refreshReply(RefreshReply(voucherID: request.authorization.voucherID, blindSignatures: again.signatures, refreshed: again.total))
        }
        guard case .bankLoad(let request) = envelope.body, let account = request.account else { return nil }
        let receiverID: ReceiverID
        switch request.content {
        case .chains(let receiver, _): receiverID = receiver
        case .blinded(let blinded):
            guard let again = BlindIssue.signedAgain(blinded, blind) else { return nil }
            return .loadReply(LoadReply(blindSignatures: again.signatures, debited: again.total))
        }
        var vouchers: [SignedVoucher] = []
        for chain in request.chains {
            guard let row = try? store.voucher(root: chain.root), row.account == account, row.commitment.receiverID == receiverID else {
                return nil
            }
            vouchers.append(signer.sign(row.commitment))
        }
        guard let total = try? Amount.sum(vouchers.map(\.commitment.faceValue)) else { return nil }
        return .loadReply(LoadReply(vouchers: vouchers, debited: total))
    }

    // MARK: M3 online verification

    /// Verifies every coin and marks them all, or none: the merchant delivers only after this.
    mutating func verifyCoins(_ request: VerifyCoins, now: Timestamp) throws -> (BankBatch, Body) {
        guard Set(request.coins.map { $0.voucherID }).count == request.coins.count else {
            throw QuickPayError(.malformed, "at most one coin per voucher")
        }
        let receiver = try knownReceiver(request.receiverID)
        guard receiver.mode == .online, request.mode == .online else {
            throw QuickPayError(.modeMismatch, "the bank holds \(receiver.id) as \(receiver.mode), and only online merchants verify coins here")
        }
        var batch = BankBatch()
        var credited = Amount.zero
        var floats = FloatDraws()
        let attached = Dictionary(request.vouchers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for coin in request.coins {
            var row = try spendableVoucher(coin.voucherID, receiver: receiver.id, attached: attached[coin.voucherID], now: now)
            guard now < row.commitment.expiry else { throw QuickPayError(.expired, "voucher \(coin.voucherID) expired") }
            let steps = try ChainVerifier.verify(coin.position, after: row.redeemed, length: row.commitment.length)
            let value = try row.commitment.denomination.value(ofCoins: steps)
            credited = try credited.adding(value)
            try floats.draw(value, from: row.float, store: store)
            row.redeemed = coin.position
            batch.vouchers.append(row)
        }
        batch.postings = floats.postings(to: .quickPay(receiver.account))
        return (batch, .verifyCoinsReply(credited: credited))
    }

    // MARK: M4 redemption

    /// Each coin of the batch is credited or rejected on its own; the credited ones commit together.
    mutating func redeem(_ request: Redeem, now: Timestamp) throws -> (BankBatch, Body) {
        guard Set(request.coins.map { $0.voucherID }).count == request.coins.count else {
            throw QuickPayError(.malformed, "one coin per voucher in a redemption")
        }
        let receiver = try knownReceiver(request.receiverID)
        guard receiver.mode == request.mode else {
            throw QuickPayError(.modeMismatch, "the bank holds \(receiver.id) as \(receiver.mode), the merchant runs \(request.mode)")
        }
        var batch = BankBatch()
        var results: [RedeemResult] = []
        var total = Amount.zero
        var floats = FloatDraws()
        let attached = Dictionary(request.vouchers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for coin in request.coins {
            do throws(QuickPayError) {
                let credited = try redeemOne(coin, attached: attached[coin.voucherID], receiver: receiver, now: now, floats: &floats, into: &batch)
                total = try total.adding(credited)
                results.append(RedeemResult(voucherID: coin.voucherID, credited: credited, error: nil))
            } catch {
                results.append(RedeemResult(voucherID: coin.voucherID, credited: .zero, error: error))
            }
        }
        batch.postings = floats.postings(to: .quickPay(receiver.account))
        return (batch, .redeemReply(RedeemReply(results: results, totalCredited: total)))
    }

    func redeemOne(
        _ coin: Coin, attached: SignedVoucher?, receiver: ReceiverRecord, now: Timestamp, floats: inout FloatDraws, into batch: inout BankBatch
    ) throws(QuickPayError) -> Amount {
        let found: BankVoucher?
        do { found = try knownOrFirstSeen(coin.voucherID, attached: attached, now: now) } catch let error as QuickPayError { throw error } catch {
            throw QuickPayError(.unavailable, "storage: \(error)")
        }
        guard var row = found else { throw QuickPayError(.unknownVoucher, "no voucher \(coin.voucherID)") }
        guard row.commitment.receiverID == receiver.id else {
            throw QuickPayError(.wrongReceiver, "voucher \(coin.voucherID) is for \(row.commitment.receiverID)")
        }
        if case .closed = row.state { throw QuickPayError(.voucherClosed, "voucher \(coin.voucherID) is closed") }
        guard now < depositDeadline(row) else {
            throw QuickPayError(.deadlinePassed, "voucher \(coin.voucherID) could be redeemed until \(depositDeadline(row))")
        }
        let steps = try ChainVerifier.verify(coin.position, after: row.redeemed, length: row.commitment.length)
        let value = try row.commitment.denomination.value(ofCoins: steps)
        do { try floats.draw(value, from: row.float, store: store) } catch let error as QuickPayError { throw error } catch {
            throw QuickPayError(.unavailable, "storage: \(error)")
        }
        row.redeemed = coin.position
        batch.vouchers.append(row)
        return value
    }

    /// The bank's row for a voucher, or, for a blind voucher it has not seen yet, a new row made
    /// from the voucher sent along, once its signature checks out under a key of the bank's list
    /// (nil: no row and nothing sent along). Two blind vouchers may share a chain root: each was
    /// paid for by a load of its own, and coins name the voucher; refusing the second would let
    /// anyone who learned a root (its merchant) strand a voucher by getting a copy seen first.
    func knownOrFirstSeen(_ id: VoucherID, attached: SignedVoucher?, now: Timestamp) throws -> BankVoucher? {
        if let row = try store.voucher(id) { return row }
        guard let attached else { return nil }
        guard attached.commitment.scheme == .blindRSA, attached.id == id else {
            throw QuickPayError(.unknownVoucher, "no voucher \(id); only a blind voucher is made known by sending it")
        }
        try blindKeyring.verify(attached)
        return BankVoucher(commitment: attached.commitment, account: nil, redeemed: .root(attached.commitment.root), state: .open)
    }

    /// What a step takes out of the voucher floats, per float: a float never pays out more than
    /// it holds (a blind key's float holds what its loads paid in; only a forged voucher under a
    /// leaked key could ask for more, and it is refused instead of failing the whole group).
    struct FloatDraws {
        private(set) var amounts: [LedgerAccount: Amount] = [:]
        private var order: [LedgerAccount] = []

        mutating func draw(_ value: Amount, from float: LedgerAccount, store: any BankStore) throws {
            let drawn = amounts[float] ?? .zero
            let next = try drawn.adding(value)
            if case .blindFloat(let key) = float, try store.balance(float) < next {
                throw QuickPayError(.internal, "the float of blind key \(key) holds less than its vouchers claim; refused")
            }
            if amounts[float] == nil { order.append(float) }
            amounts[float] = next
        }

        func postings(to account: LedgerAccount) -> [Posting] {
            order.compactMap { float in amounts[float].flatMap { $0 > .zero ? Posting(from: float, to: account, amount: $0) : nil } }
        }
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

    // MARK: Operator: merchant modes

    /// An operator's explicit change of a receiver's mode (the control action `set-mode`). Online
    /// to offline is always safe: the bank then settles with the merchant at unload. Offline to
    /// online is refused while a voucher for it is open or closing: the bank would refund coins
    /// the merchant accepted without it. A running merchant learns the change when the bank
    /// refuses its next request with MODE_MISMATCH, and at its next start.
    public mutating func setMode(_ receiver: ReceiverID, to mode: MerchantMode) throws -> Step<BankBatch> {
        let record = try knownReceiver(receiver)
        guard record.mode != mode else { return .none }
        if mode == .online, try store.hasLiveVouchers(for: receiver) {
            throw QuickPayError(.conflict, "\(receiver) holds open vouchers taken offline; it can turn online once they are all closed")
        }
        var batch = BankBatch()
        batch.modes = [receiver: mode]
        return Step(commit: batch, label: "set_mode")
    }

    // MARK: Helpers

    func knownReceiver(_ id: ReceiverID) throws -> ReceiverRecord {
        guard let receiver = try store.receiver(id) else { throw QuickPayError(.unknownReceiver, "no receiver \(id)") }
        return receiver
    }

    func spendableVoucher(_ id: VoucherID, receiver: ReceiverID, attached: SignedVoucher?, now: Timestamp) throws -> BankVoucher {
        guard let row = try knownOrFirstSeen(id, attached: attached, now: now) else { throw QuickPayError(.unknownVoucher, "no voucher \(id)") }
        guard row.commitment.receiverID == receiver else {
            throw QuickPayError(.wrongReceiver, "voucher \(id) is for \(row.commitment.receiverID), not \(receiver)")
        }
        switch row.state {
        case .open: return row
        case .closing, .closed: throw QuickPayError(.voucherClosed, "voucher \(id) is being unloaded or closed")
        }
    }
}
